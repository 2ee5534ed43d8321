package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/control/controltest"
)

// A machine on GRUB whose Fedora CoreOS image has no Fedora shim and GRUB
// of its own: `pixie status` says so and how to fix it, and stops saying
// so once the image has its set.
func TestStatusNamesProfilesWithoutLoaderSet(t *testing.T) {
	data := t.TempDir()
	const dir = "fedora-coreos/testing/x86_64/43.20251110.2.0"
	img := filepath.Join(data, "assets", dir)
	if err := os.MkdirAll(filepath.Join(img, "loaders"), 0o755); err != nil {
		t.Fatal(err)
	}
	m, _ := json.Marshal(map[string]any{"os": "fedora-coreos", "stream": "testing", "arch": "x86_64", "version": "43.20251110.2.0", "dir": dir})
	os.WriteFile(filepath.Join(img, "pixie-image.json"), m, 0o644)
	d := &testDaemon{controltest.Start(t, controltest.Options{
		AnyUID: true, KeepAlive: 100 * time.Millisecond,
		Status: api.Status{Interface: "eth0", Address: "10.0.0.2", Version: "test", DataDir: data,
			Ports: api.Ports{DHCP: 67, PXE: 4011, TFTP: 69, HTTP: 8080}},
	})}
	mustPixie(t, d, "profiles", "add", "fcos", "--os", "fedora-coreos", "--kernel", dir+"/kernel", "--initrd", dir+"/initramfs.img")
	if out := mustPixie(t, d, "status"); strings.Contains(out, "loader set") {
		t.Fatalf("no machine is on GRUB yet, but status says:\n%s", out)
	}
	mustPixie(t, d, "machines", "set", "52:54:00:aa:bb:01", "--profile", "fcos", "--loader", "grub")
	wantContains(t, "status", mustPixie(t, d, "status"),
		"loader set:   profile fcos: machines on GRUB (52:54:00:aa:bb:01) boot Fedora CoreOS "+dir+", which has no Fedora shim and GRUB of its own",
		"fix: `sudo pixie images pull fedora-coreos --stream testing` fetches Fedora's signed shim and GRUB")

	os.WriteFile(filepath.Join(img, "loaders", "shimx64.efi"), []byte("shim"), 0o644)
	os.WriteFile(filepath.Join(img, "loaders", "grubx64.efi"), []byte("grub"), 0o644)
	if out := mustPixie(t, d, "status"); strings.Contains(out, "loader set") {
		t.Fatalf("the image has its set, but status says:\n%s", out)
	}
}
