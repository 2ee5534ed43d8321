package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIProfilesIgnitionSpec: --ignition-spec is stored as Ignition spells
// it, shown, and makes the --ssh-key config (Butane fcos 1.5.0, spec
// 3.4.0) render at 3.3.0; a config that needs more is refused with the
// daemon's reason; edit clears it with "".
func TestCLIProfilesIgnitionSpec(t *testing.T) {
	d := startDaemon(t)
	key := filepath.Join(t.TempDir(), "id.pub")
	if err := os.WriteFile(key, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITESTKEY me@laptop\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustPixie(t, d, "profiles", "add", "deb", "--kernel", "k", "--ssh-key", key, "--ignition-spec", "3.3")
	if p := showProfile(t, d, "deb"); p.IgnitionSpec != "3.3.0" {
		t.Errorf("stored spec %q, want 3.3.0", p.IgnitionSpec)
	}
	wantContains(t, "profiles show", mustPixie(t, d, "profiles", "show", "deb"), "ign-spec:", "3.3.0 (configs are served at this Ignition spec, or refused)")
	if ign := renderFor(t, d, "deb"); !strings.Contains(ign, `"version":"3.3.0"`) || !strings.Contains(ign, "pixie-phone-home.service") {
		t.Errorf("rendered for 3.3.0:\n%s", ign)
	}

	luks := filepath.Join(t.TempDir(), "luks.ign")
	if err := os.WriteFile(luks, []byte(`{"ignition":{"version":"3.4.0"},"storage":{"luks":[{"name":"d","device":"/dev/vdb","discard":true}]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	wantFail(t, d, 1, []string{"storage.luks.0.discard is not in spec 3.3.0", "--ignition-spec"}, "profiles", "edit", "deb", "--ignition", luks)
	wantFail(t, d, 1, []string{"give a stable 3.x version"}, "profiles", "edit", "deb", "--ignition-spec", "4")

	mustPixie(t, d, "profiles", "edit", "deb", "--ignition-spec", "")
	if p := showProfile(t, d, "deb"); p.IgnitionSpec != "" {
		t.Errorf("after --ignition-spec \"\": %q", p.IgnitionSpec)
	}
	if ign := renderFor(t, d, "deb"); !strings.Contains(ign, `"version":"3.4.0"`) {
		t.Errorf("rendered with no limit (generic):\n%s", ign)
	}
}
