package api

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDHCPPath(t *testing.T) {
	cases := []struct {
		note, path, short string
	}{
		{"", "proxyDHCP over UDP sockets (the ports are pixie's alone)", ""},
		{"proxyDHCP over the link layer: port 67 is held by PID 1 (launchd), for bootpd: Internet Sharing or a VM app's shared network",
			"proxyDHCP over the link layer: port 67 is held by PID 1 (launchd), for bootpd: Internet Sharing or a VM app's shared network",
			"proxyDHCP over the link layer (port 67 is held by PID 1 (launchd))"},
		{"proxyDHCP over the link layer: port 67 as asked (--dhcp-link-layer); proxyDHCP over the link layer: port 4011 as asked (--dhcp-link-layer)",
			"proxyDHCP over the link layer: port 67 as asked (--dhcp-link-layer); proxyDHCP over the link layer: port 4011 as asked (--dhcp-link-layer)",
			"proxyDHCP over the link layer (port 67 as asked (--dhcp-link-layer))"},
		{"odd note", "odd note", "odd note"},
	}
	for _, c := range cases {
		st := Status{DHCPLinkLayer: c.note}
		if got := st.DHCPPath(); got != c.path {
			t.Errorf("DHCPPath(%q) = %q, want %q", c.note, got, c.path)
		}
		if got := st.LinkLayerShort(); got != c.short {
			t.Errorf("LinkLayerShort(%q) = %q, want %q", c.note, got, c.short)
		}
	}
}

func TestDHCPDrops(t *testing.T) {
	got := DHCPDrops(map[string]uint64{
		"dhcp.received":                   900,
		"dhcp.sent.offer":                 10,
		"dhcp.dropped.other-interface":    12,
		"dhcp.dropped.kernel":             0, // zero: not shown
		"dhcp.dropped.frame-udp-checksum": 2,
		"dhcp.dropped.frame-vlan-tagged":  1,
		"dhcp.ignored.not-pxe":            40, // a decision, not a drop
		"dhcp.sent-link-fallback":         3,
	})
	want := []DHCPDrop{
		{Counter: "dhcp.dropped.other-interface", Count: 12, What: dhcpDropWords["dhcp.dropped.other-interface"]},
		{Counter: "dhcp.sent-link-fallback", Count: 3, What: dhcpDropWords["dhcp.sent-link-fallback"]},
		{Counter: "dhcp.dropped.frame-*", Count: 3, What: "link-layer frames were refused before DHCP (udp-checksum 2, vlan-tagged 1)"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DHCPDrops (-want +got):\n%s", diff)
	}
	if DHCPDrops(nil) != nil {
		t.Error("no counters gave drops")
	}
	for k, w := range dhcpDropWords {
		if w == "" || strings.HasSuffix(w, ".") {
			t.Errorf("%s: %q is not a phrase to follow a count", k, w)
		}
	}
}

func TestLinkLayerOn(t *testing.T) {
	st := Status{DHCPLinkLayer: "proxyDHCP over the link layer: port 67 is held by PID 1 (launchd)"}
	if !st.LinkLayerOn(67) || st.LinkLayerOn(6) || st.LinkLayerOn(4011) || st.LinkLayerOn(0) {
		t.Errorf("LinkLayerOn for %q: 67 %v, 6 %v, 4011 %v", st.DHCPLinkLayer, st.LinkLayerOn(67), st.LinkLayerOn(6), st.LinkLayerOn(4011))
	}
	both := Status{DHCPLinkLayer: "proxyDHCP over the link layer: port 67 as asked (--dhcp-link-layer); proxyDHCP over the link layer: port 4011 as asked (--dhcp-link-layer)"}
	if !both.LinkLayerOn(67) || !both.LinkLayerOn(4011) {
		t.Errorf("LinkLayerOn for %q", both.DHCPLinkLayer)
	}
	if (Status{}).LinkLayerOn(67) {
		t.Error("LinkLayerOn with UDP sockets")
	}
}
