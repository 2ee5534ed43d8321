package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/butane/config"
	"github.com/coreos/butane/config/common"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/internal/testnet"
)

// ignitionForDebian translates packaging/coreos/pixie.fcos.bu, with the
// pixie binary bin embedded, into an Ignition config Debian 12's Ignition
// (2.14) reads. The shipped file says fcos 1.5.0 (Ignition spec 3.4, what
// current Fedora CoreOS reads); nothing in it needs more than fcos 1.4.0,
// which translates to spec 3.3. The user core, a member of group pixie, is
// added the way the file's comment tells users to.
func ignitionForDebian(t *testing.T, bin string) []byte {
	t.Helper()
	bu, err := os.ReadFile("../../packaging/coreos/pixie.fcos.bu")
	if err != nil {
		t.Fatal(err)
	}
	src := string(bu)
	for old, new := range map[string]string{
		"\nversion: 1.5.0\n": "\nversion: 1.4.0\n",
		"\npasswd:\n":        "\npasswd:\n  users:\n    - name: core\n      groups: [pixie]\n",
	} {
		if !strings.Contains(src, old) {
			t.Fatalf("pixie.fcos.bu has no %q any more: update this test's translation", old)
		}
		src = strings.Replace(src, old, new, 1)
	}
	files := t.TempDir()
	if err := testnet.CopyFile(filepath.Join(files, "pixie"), bin); err != nil {
		t.Fatal(err)
	}
	out, report, err := config.TranslateBytes([]byte(src), common.TranslateBytesOptions{
		TranslateOptions: common.TranslateOptions{FilesDir: files},
	})
	if err != nil {
		t.Fatalf("butane: %v\n%s", err, report)
	}
	if len(report.Entries) > 0 {
		t.Fatalf("butane --strict would fail:\n%s", report)
	}
	var head struct {
		Ignition struct{ Version string } `json:"ignition"`
	}
	if err := json.Unmarshal(out, &head); err != nil || head.Ignition.Version != "3.3.0" {
		t.Fatalf("translated config has spec %q (%v), want 3.3.0", head.Ignition.Version, err)
	}
	return out
}

// TestCoreOSIgnitionSystemd is the Fedora CoreOS path as far as this
// machine allows: the real Ignition applies pixie's Butane config to a
// fresh root in its files stage (binary, group pixie, unit, enabled), the
// root boots with systemd as PID 1 in the LAN's server namespace, and
// pixie starts from what Ignition wrote, with no install step. That pixie
// then network-boots an OVMF VM to the Ignition marker, and `pixie boots`,
// run in the container by a member of group pixie, lists the VM's MAC.
func TestCoreOSIgnitionSystemd(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a systemd container and a VM")
	}
	testnet.RequireNspawn(t)
	testnet.RequireIgnition(t)
	testnet.RequireVM(t)
	ign := ignitionForDebian(t, pixieBinary(t))

	var ignLog string
	b := newSystemdBox(t, func(root string) {
		// The image as Ignition first sees it: no pixie anywhere.
		if err := os.Remove(filepath.Join(root, "usr/local/bin/pixie")); err != nil {
			t.Fatal(err)
		}
		// Fedora CoreOS ships an SELinux config; Ignition reads it.
		if err := os.MkdirAll(filepath.Join(root, "etc/selinux"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "etc/selinux/config"), []byte("SELINUX=disabled\nSELINUXTYPE=targeted\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		res, err := testnet.ApplyIgnition(root, ign)
		ignLog = res.Log
		if err != nil {
			t.Fatalf("%v\n%s", err, tail(ignLog, 40))
		}
		t.Logf("Ignition fetch-offline + files stages: %s", time.Since(start).Round(10*time.Millisecond))
		for _, want := range []string{"/usr/local/bin/pixie", "/etc/systemd/system/pixie.service"} {
			if !slices.Contains(res.Relabeled, want) {
				t.Errorf("Ignition did not ask to relabel %s (asked: %v)", want, res.Relabeled)
			}
		}
		// The OS the VM boots, where a user would have pulled one: the
		// default profile's kernel and initrd in the asset store.
		assets := filepath.Join(root, "var/lib/pixie/assets")
		if err := os.MkdirAll(filepath.Join(assets, filepath.Dir(firstTimeKernel)), 0o755); err != nil {
			t.Fatal(err)
		}
		k, err := testnet.FindKernel()
		if err != nil {
			t.Fatal(err)
		}
		if err := testnet.CopyFile(filepath.Join(assets, firstTimeKernel), k.Path); err != nil {
			t.Fatal(err)
		}
		if err := testnet.WriteInitrd(filepath.Join(assets, firstTimeInitrd), k); err != nil {
			t.Fatal(err)
		}
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("Ignition log:\n%s", tail(ignLog, 40))
		}
	})

	// What Ignition wrote, read back from the booted system.
	if fi, err := os.Stat(filepath.Join(b.CT.Root, "usr/local/bin/pixie")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("Ignition did not write /usr/local/bin/pixie mode 0755: %v %v", fi, err)
	}
	if grp := b.run("getent", "group", "pixie"); !strings.Contains(grp, "core") {
		t.Errorf("group pixie lacks user core: %s", grp)
	}
	unit := b.run("cat", "/etc/systemd/system/pixie.service")
	want, err := os.ReadFile("../../packaging/systemd/pixie.service")
	if err != nil {
		t.Fatal(err)
	}
	if unit != string(want) {
		t.Errorf("the unit Ignition wrote differs from packaging/systemd/pixie.service:\n%s", unit)
	}
	if got := strings.TrimSpace(b.run("systemctl", "is-enabled", "pixie")); got != "enabled" {
		t.Errorf("systemctl is-enabled pixie = %q, want enabled (Ignition's preset)", got)
	}
	if got := b.state(); got != "active" {
		t.Fatalf("pixie is %q after the first boot, want active without any install step", got)
	}

	router, err := b.LAN.StartRouterDHCP()
	if err != nil {
		t.Fatal(err)
	}
	st := b.waitServing("core", "")
	t.Logf("pixie (started by systemd from Ignition's files) serves on %s %s, boot URL %s", st.Interface, st.Address, st.BootURL)
	caps := b.procCaps(b.mainPID())
	if caps["CapEff"] != unitCaps {
		t.Errorf("the daemon runs with CapEff %s, want %s", caps["CapEff"], unitCaps)
	}

	const mac = "52:54:00:18:00:c5"
	p := &pixieLAN{LAN: b.LAN, Router: router}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	res, wall := p.Boot(ctx, t, testnet.UEFI, mac, nil)
	t.Logf("UEFI VM: %s in %.1fs", res, wall.Seconds())
	if sha := bootedSHA(t, res); sha == "" {
		t.FailNow()
	}

	out := b.run("runuser", "-u", "core", "--", "pixie", "boots", "--json")
	var boots []api.BootSummary
	if err := json.Unmarshal([]byte(out), &boots); err != nil {
		t.Fatalf("pixie boots --json as core: %v\n%s", err, out)
	}
	found := false
	for _, s := range boots {
		if strings.EqualFold(s.MAC, mac) {
			found = true
			t.Logf("pixie boots (as core): %s %s %s", s.MAC, s.Last.Stage, s.Profile)
		}
	}
	if !found {
		t.Errorf("pixie boots, run by core (group pixie), does not list %s:\n%s", mac, out)
	}
	if text := b.run("runuser", "-u", "core", "--", "pixie", "boots"); !strings.Contains(strings.ToLower(text), mac) {
		t.Errorf("pixie boots (table) lacks %s:\n%s", mac, text)
	}
}
