package httpboot

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/pixie-boot/pixie/daemon/store"
)

// A reserved address in proxy mode goes into the boot: ip= and
// nameserver= on the kernel command line, and the OS's network file in the
// rendered Ignition config.
func TestReservationInBoot(t *testing.T) {
	const ign = `{"ignition":{"version":"3.4.0"}}`
	for _, tc := range []struct {
		os, file, line string
	}{
		{"fedora-coreos", "/etc/NetworkManager/system-connections/pixie-reserved.nmconnection", "address1=10.0.0.20/24,10.0.0.1"},
		{"flatcar", "/etc/systemd/network/00-pixie-reserved.network", "Address=10.0.0.20/24"},
	} {
		plan := store.BootPlan{
			Machine: store.Machine{MAC: "52:54:00:12:34:56", Hostname: "node1", IP: "10.0.0.20/24", Gateway: "10.0.0.1", DNS: []string{"10.0.0.53"}},
			Profile: store.Profile{Name: "p", OS: tc.os, Args: "console=ttyS0", Ignition: ign},
		}
		args, err := KernelArgs(plan, testReq)
		if err != nil {
			t.Fatal(err)
		}
		if want := "console=ttyS0 ip=10.0.0.20::10.0.0.1:255.255.255.0:node1::none nameserver=10.0.0.53"; args != want {
			t.Errorf("%s: kernel args %q, want %q", tc.os, args, want)
		}
		body, err := RenderIgnition(plan, testReq)
		if err != nil {
			t.Fatal(err)
		}
		var cfg struct {
			Storage struct {
				Files []struct {
					Path     string
					Contents struct{ Source string }
				}
			}
		}
		if err := json.Unmarshal(body, &cfg); err != nil {
			t.Fatal(err)
		}
		if len(cfg.Storage.Files) != 1 || cfg.Storage.Files[0].Path != tc.file {
			t.Fatalf("%s: files in %s", tc.os, body)
		}
		text, _ := url.PathUnescape(strings.TrimPrefix(cfg.Storage.Files[0].Contents.Source, "data:,"))
		if !strings.Contains(text, tc.line) {
			t.Errorf("%s: %s lacks %q:\n%s", tc.os, tc.file, tc.line, text)
		}
	}
	// A profile that sets ip= itself keeps its own.
	plan := store.BootPlan{Machine: store.Machine{MAC: "52:54:00:12:34:56", IP: "10.0.0.20"}, Profile: store.Profile{Name: "p", Args: "ip=dhcp"}}
	if args, err := KernelArgs(plan, testReq); err != nil || args != "ip=dhcp" {
		t.Errorf("profile with ip=: %q %v", args, err)
	}
}
