package ignition

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

func TestStaticKernelArgs(t *testing.T) {
	for _, tc := range []struct {
		ip, gw string
		dns    []string
		host   string
		want   string
	}{
		{"10.0.0.20/24", "10.0.0.1", []string{"10.0.0.53", "1.1.1.1"}, "node1", "ip=10.0.0.20::10.0.0.1:255.255.255.0:node1::none nameserver=10.0.0.53 nameserver=1.1.1.1"},
		{"10.0.0.20", "", nil, "", "ip=10.0.0.20:::255.255.255.0:::none"},               // no prefix: the default
		{"192.168.7.9/20", "", nil, "web.lab", "ip=192.168.7.9:::255.255.240.0:::none"}, // a dotted hostname stays out of ip=
	} {
		s, err := ParseStatic("52:54:00:AA:BB:CC", tc.ip, tc.gw, tc.dns, tc.host, 24)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.KernelArgs(); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.ip, got, tc.want)
		}
	}
	if _, err := ParseStatic("52:54:00:aa:bb:cc", "fd00::1/64", "", nil, "", 24); err == nil {
		t.Error("an IPv6 reservation was accepted")
	}
}

// TestAddStaticFile: the rendered config carries the OS's network file,
// and still passes the Ignition library's validation.
func TestAddStaticFile(t *testing.T) {
	base := []byte(`{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/etc/hostname","mode":420,"contents":{"source":"data:,n1"}}]}}`)
	s, err := ParseStatic("52:54:00:aa:bb:cc", "10.0.0.20/24", "10.0.0.1", []string{"10.0.0.53"}, "n1", 24)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		os, path string
		want     []string
	}{
		{"fedora-coreos", "/etc/NetworkManager/system-connections/pixie-reserved.nmconnection",
			[]string{"mac-address=52:54:00:aa:bb:cc", "method=manual", "address1=10.0.0.20/24,10.0.0.1", "dns=10.0.0.53;"}},
		{"flatcar", "/etc/systemd/network/00-pixie-reserved.network",
			[]string{"MACAddress=52:54:00:aa:bb:cc", "Address=10.0.0.20/24", "Gateway=10.0.0.1", "DNS=10.0.0.53"}},
	} {
		out, err := AddStaticFile(base, tc.os, s)
		if err != nil {
			t.Fatalf("%s: %v", tc.os, err)
		}
		if err := validateIgnition(out); err != nil {
			t.Fatalf("%s: the result does not validate: %v", tc.os, err)
		}
		var doc struct {
			Storage struct {
				Files []struct {
					Path     string
					Mode     int
					Contents struct{ Source string }
				}
			}
		}
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Storage.Files) != 2 || doc.Storage.Files[0].Path != "/etc/hostname" || doc.Storage.Files[1].Path != tc.path {
			t.Fatalf("%s: files %+v", tc.os, doc.Storage.Files)
		}
		body, err := url.PathUnescape(strings.TrimPrefix(doc.Storage.Files[1].Contents.Source, "data:,"))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w+"\n") {
				t.Errorf("%s: network file lacks %q:\n%s", tc.os, w, body)
			}
		}
	}
	// Other kinds, and legacy configs, are left alone.
	if out, err := AddStaticFile(base, "generic", s); err != nil || string(out) != string(base) {
		t.Errorf("generic: %s %v", out, err)
	}
	legacy := []byte(`{"ignition":{"version":"2.3.0"}}`)
	if out, err := AddStaticFile(legacy, "container-linux", s); err != nil || string(out) != string(legacy) {
		t.Errorf("legacy: %s %v", out, err)
	}
}
