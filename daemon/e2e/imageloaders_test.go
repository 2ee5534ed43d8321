package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pixie-boot/pixie/internal/testnet"
)

const macImageSet = "52:54:00:5b:00:11"

// TestSecureBootImageLoaderSet boots OVMF with Secure Boot enforced
// through the shim and GRUB of the profile's own image rather than the
// server's: a shim boots only its vendor's kernels, so a Fedora CoreOS
// image carries Fedora's set (`pixie images pull` puts it in the image's
// loaders/ folder). Fedora's packages cannot be downloaded here, so
// Debian's signed shim and GRUB stand in as that image's set, with
// Debian's kernel as its kernel; the server-wide shimx64.efi and
// grubx64.efi are junk, so a boot that used them would stop at "Access
// Denied" instead of reaching the Ignition marker.
func TestSecureBootImageLoaderSet(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM under TCG: not with -short")
	}
	shim, grub := testnet.RequireSecureBootVM(t)
	p := startPixieLAN(t, pixieOptions{
		WithOS:     true,
		RouterConf: []string{testnet.NextServer(testnet.ServerIP)},
		FirmwareBytes: map[string][]byte{
			"shimx64.efi": []byte("not a loader: the server-wide shim must not be offered to this machine"),
			"grubx64.efi": []byte("not a loader either"),
		},
	})

	// The image: its manifest, its kernel and initrd, and its own set.
	const image = "fedora-coreos/stable/x86_64/43.20251110.3.1"
	assets := filepath.Join(p.DataDir, "assets")
	dir := filepath.Join(assets, image)
	if err := os.MkdirAll(filepath.Join(dir, "loaders"), 0o755); err != nil {
		t.Fatal(err)
	}
	for dst, src := range map[string]string{
		filepath.Join(dir, "vmlinuz"):                filepath.Join(assets, firstTimeKernel),
		filepath.Join(dir, "initrd.img"):             filepath.Join(assets, firstTimeInitrd),
		filepath.Join(dir, "loaders", "shimx64.efi"): shim,
		filepath.Join(dir, "loaders", "grubx64.efi"): grub,
	} {
		if err := testnet.CopyFile(dst, src); err != nil {
			t.Fatal(err)
		}
	}
	manifest, _ := json.Marshal(map[string]any{"os": "fedora-coreos", "stream": "stable", "arch": "x86_64",
		"version": "43.20251110.3.1", "dir": image, "kernel": image + "/vmlinuz", "initramfs": []string{image + "/initrd.img"}})
	if err := os.WriteFile(filepath.Join(dir, "pixie-image.json"), manifest, 0o644); err != nil {
		t.Fatal(err)
	}
	p.MustCLI(t, "profiles", "edit", defaultProfile, "--kernel", image+"/vmlinuz", "--initrd", image+"/initrd.img")
	p.appendArgs(t, defaultProfile, "panic=5")
	p.MustCLI(t, "machines", "set", macImageSet, "--loader", "grub")
	if out := p.MustCLI(t, "status"); strings.Contains(out, "loader set") {
		t.Errorf("status reports a loader-set problem although the image has its set:\n%s", out)
	}

	res, wall := p.Boot(context.Background(), t, testnet.UEFISecureBoot, macImageSet, nil)
	t.Logf("Secure Boot through the image's own shim and GRUB: %s (wall %.1fs)", res, wall.Seconds())
	got := bootedSHA(t, res)
	if !strings.Contains(res.Log, testnet.MarkerSecureBoot) {
		t.Errorf("the kernel did not say %q: Secure Boot was not on\n%s", testnet.MarkerSecureBoot, tail(cleanConsole(res.Log), 3000))
	}
	checkTimeline(t, p, macImageSet, 0, []string{"dhcp", "tftp", "tftp", "script", "kernel", "initrd", "ignition"}, nil)
	es := p.Timeline(t, macImageSet)
	var offered bool
	var tftp []string
	for _, e := range es {
		switch e.Stage {
		case "dhcp":
			offered = offered || strings.Contains(e.Detail, "img/"+image+"/shimx64.efi")
		case "tftp":
			tftp = append(tftp, e.Detail)
		}
	}
	if !offered {
		t.Errorf("no DHCP event offers img/%s/shimx64.efi", image)
	}
	if len(tftp) != 2 || !strings.HasPrefix(tftp[0], "shimx64.efi ") || !strings.HasPrefix(tftp[1], "grubx64.efi ") ||
		!strings.Contains(tftp[0], "from image "+image) || !strings.Contains(tftp[1], "from image "+image) {
		t.Errorf("TFTP downloads %q: want shimx64.efi then grubx64.efi, both from image %s", tftp, image)
	}
	if want := p.Ignition(t, res); got != "" && got != sha256Hex(want) {
		t.Errorf("the machine fetched a config with sha256 %s; pixie serves %s", got, sha256Hex(want))
	}
	// shim's optional files, asked for under the image's folder too, are
	// "not found" without a warning: a good boot warns about nothing.
	var warned []string
	for _, line := range strings.Split(p.Daemon.Log(), "\n") {
		if (strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR")) && strings.Contains(line, "mac="+macImageSet) {
			warned = append(warned, line)
		}
	}
	if len(warned) > 0 {
		t.Errorf("pixie warned during a good boot:\n%s", strings.Join(warned, "\n"))
	}
}
