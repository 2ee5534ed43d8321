package httpboot

import (
	"strings"
	"testing"

	"github.com/pixie-boot/pixie/daemon/store"
)

// TestRenderIgnitionAtTheProfilesSpec: the config a machine fetches is at
// the spec its profile's OS reads, and a machine's own config that needs a
// newer spec makes the fetch fail with the reason instead of serving what
// the machine's Ignition would refuse.
func TestRenderIgnitionAtTheProfilesSpec(t *testing.T) {
	const profileCfg = `{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/etc/hostname","contents":{"source":"data:,{{.Hostname}}"}}]}}`
	const luks = `{"ignition":{"version":"3.4.0"},"storage":{"luks":[{"name":"d","device":"/dev/vdb","discard":true}]}}`
	r := Request{ServerURL: "http://10.0.0.2:8080", MAC: "52:54:00:00:00:01", Token: "TOK"}
	for _, tc := range []struct {
		name, os, spec, machine string
		want, err               string
	}{
		{"generic, no limit: as rendered", "generic", "", "", `"version":"3.4.0"`, ""},
		{"the profile's spec", "generic", "3.3.0", "", `"version":"3.3.0"`, ""},
		{"flatcar's default takes 3.4", "flatcar", "", "", `"version":"3.4.0"`, ""},
		{"spec 3.2 for this OS", "fedora-coreos", "3.2.0", "", `"version":"3.2.0"`, ""},
		{"a machine config that needs 3.4", "generic", "3.3.0", luks, "", "storage.luks.0.discard is not in spec 3.3.0"},
	} {
		plan := store.BootPlan{
			Profile: store.Profile{Name: "p", OS: tc.os, IgnitionSpec: tc.spec, Ignition: profileCfg},
			Machine: store.Machine{Ignition: tc.machine},
		}
		out, err := RenderIgnition(plan, r)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "profile p") {
				t.Errorf("%s: served %s (%v); want an error saying %q", tc.name, out, err, tc.err)
			}
			continue
		}
		if err != nil || !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "data:,") {
			t.Errorf("%s: %s (%v); want %s", tc.name, out, err, tc.want)
		}
	}
}
