package ignition

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestNormalizeSpec(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"", "", ""},
		{"3.3", "3.3.0", ""},
		{"3.3.0", "3.3.0", ""},
		{"3.0.0", "3.0.0", ""},
		{"3.5.0", "3.5.0", ""},
		{"3.6.0", "", "from 3.0.0 to 3.5.0"},
		{"3.5.0-experimental", "", "give a stable 3.x version"},
		{"2.2.0", "", "give a stable 3.x version"},
		{"3.x", "", "give a stable 3.x version"},
	} {
		got, err := NormalizeSpec(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("NormalizeSpec(%q) = %q, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NormalizeSpec(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestSpecFor(t *testing.T) {
	for _, tc := range []struct{ os, profile, kernel, want string }{
		{"generic", "", "vmlinuz", ""},
		{"generic", "3.3.0", "vmlinuz", "3.3.0"},
		{"fedora-coreos", "", "fcos/kernel", "3.5.0"},
		{"fedora-coreos", "", "http://mirror.example/fcos/kernel", "3.5.0"},
		{"fedora-coreos", "", "fedora-coreos/stable/x86_64/43.20251110.3.1/kernel", "3.5.0"},
		{"fedora-coreos", "", "fedora-coreos/stable/x86_64/41.20241027.3.0/kernel", "3.5.0"},
		{"fedora-coreos", "", "fedora-coreos/stable/x86_64/40.20240920.3.0/kernel", "3.4.0"},
		{"fedora-coreos", "", "fedora-coreos/stable/x86_64/38.20230609.3.0/kernel", "3.4.0"},
		{"fedora-coreos", "", "fedora-coreos/stable/x86_64/37.20230303.3.0/kernel", "3.3.0"},
		{"fedora-coreos", "", "fedora-coreos/stable/x86_64/x.y/kernel", "3.5.0"},
		{"fedora-coreos", "3.4.0", "fedora-coreos/stable/x86_64/37.20230303.3.0/kernel", "3.4.0"},
		{"flatcar", "", "flatcar/stable/amd64/4459.1.0/flatcar_production_pxe.vmlinuz", "3.4.0"},
		{"container-linux", "", "coreos_production_pxe.vmlinuz", ""},
	} {
		if got := SpecFor(tc.os, tc.profile, tc.kernel); got != tc.want {
			t.Errorf("SpecFor(%q, %q, %q) = %q, want %q", tc.os, tc.profile, tc.kernel, got, tc.want)
		}
	}
}

// butane renders and translates a Butane (or JSON) source with the sample
// data, the way Render does.
func rendered(t *testing.T, src string) []byte {
	t.Helper()
	out, err := Render(src, "", "generic", Data{Hostname: "node1", SSHKeys: []string{"ssh-ed25519 AAAA k"}, Vars: map[string]string{"role": "w"}})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFitSpec(t *testing.T) {
	luks34 := `{"ignition":{"version":"3.4.0"},"storage":{"luks":[{"name":"data","device":"/dev/vdb","discard":true,"clevis":{"tpm2":true}}]}}`
	luks35 := `{"ignition":{"version":"3.5.0"},"storage":{"luks":[{"name":"data","device":"/dev/vdb","cex":{"enabled":true}}]}}`
	kargs33 := `{"ignition":{"version":"3.3.0"},"kernelArguments":{"shouldExist":["quiet"]}}`
	for _, tc := range []struct {
		name, src, max string
		want           string // the version served; "" when refused
		err            []string
	}{
		{"no limit keeps 3.5", luks35, "", "3.5.0", nil},
		{"older than the limit is unchanged", `{"ignition":{"version":"3.2.0"}}`, "3.3.0", "3.2.0", nil},
		{"same as the limit", kargs33, "3.3.0", "3.3.0", nil},
		{"butane fcos 1.5 (3.4) down to 3.3", butaneFCOS, "3.3.0", "3.3.0", nil},
		{"butane fcos 1.6 (3.5) down to 3.0", strings.Replace(butaneFCOS, "1.5.0", "1.6.0", 1), "3.0.0", "3.0.0", nil},
		{"3.4 luks discard needs 3.4", luks34, "3.3.0", "", []string{"needs Ignition spec 3.4.0", "reads up to 3.3.0", "storage.luks.0.discard is not in spec 3.3.0", "--ignition-spec"}},
		{"3.5 cex needs 3.5", luks35, "3.4.0", "", []string{"needs Ignition spec 3.5.0", "storage.luks.0.cex.enabled is not in spec 3.4.0"}},
		{"3.3 kernel arguments cannot go to 3.2", kargs33, "3.2.0", "", []string{"kernelArguments.shouldExist.0 is not in spec 3.2.0"}},
		{"legacy configs are left alone", guideFirstTime, "3.0.0", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var raw []byte
			if Detect(tc.src) == FormatLegacy {
				raw = []byte(tc.src)
			} else {
				raw = rendered(t, tc.src)
			}
			out, err := FitSpec(raw, tc.max)
			if len(tc.err) > 0 {
				if err == nil {
					t.Fatalf("FitSpec to %s served %s; want it refused", tc.max, out)
				}
				for _, want := range tc.err {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not say %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("FitSpec to %s: %v", tc.max, err)
			}
			if tc.want == "" { // legacy: byte for byte
				if string(out) != string(raw) {
					t.Errorf("legacy config changed: %s", out)
				}
				return
			}
			var head struct {
				Ignition struct{ Version string }
			}
			if err := json.Unmarshal(out, &head); err != nil || head.Ignition.Version != tc.want {
				t.Fatalf("served version %q (%v), want %s: %s", head.Ignition.Version, err, tc.want, out)
			}
			// What is served must be valid at its version, and keep the
			// content: the same files and users as before.
			if err := validateIgnition(out); err != nil {
				t.Errorf("served config invalid: %v", err)
			}
			var before, after map[string]any
			_ = json.Unmarshal(raw, &before)
			_ = json.Unmarshal(out, &after)
			delete(before, "ignition")
			delete(after, "ignition")
			if lost := missing(before, after, ""); len(lost) > 0 {
				t.Errorf("lost in the rewrite: %v\nbefore %s\nafter  %s", lost, raw, out)
			}
		})
	}
}

func TestFitSpecRefusesABadLimit(t *testing.T) {
	if _, err := FitSpec([]byte(`{"ignition":{"version":"3.4.0"}}`), "4.0.0"); err == nil || !strings.Contains(err.Error(), "give a stable 3.x version") {
		t.Errorf("FitSpec with limit 4.0.0: %v", err)
	}
}
