package firmware

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

const fcosDir = "fedora-coreos/stable/x86_64/43.20251110.3.1"

// imageAssets makes an asset store whose Fedora CoreOS image has its own
// shim and GRUB, next to a kernel that must never be served as firmware.
func imageAssets(t *testing.T) string {
	t.Helper()
	assets := t.TempDir()
	loaders := filepath.Join(assets, fcosDir, ImageLoaderDir)
	if err := os.MkdirAll(loaders, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"shimx64.efi": "fedora shim", "grubx64.efi": "fedora grub", "mmx64.efi": "mok"} {
		os.WriteFile(filepath.Join(loaders, name), []byte(body), 0o644)
	}
	os.WriteFile(filepath.Join(assets, fcosDir, "kernel"), []byte("kernel"), 0o644)
	os.WriteFile(filepath.Join(assets, fcosDir, ImageLoaderDir, "ipxe.efi"), []byte("ipxe"), 0o644)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644)
	os.MkdirAll(filepath.Join(assets, "evil/x/loaders"), 0o755)
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(assets, "evil/x/loaders/grubx64.efi"))
	os.Symlink(outside, filepath.Join(assets, "evil/escape"))
	return assets
}

func TestWithImages(t *testing.T) {
	assets := imageAssets(t)
	override := t.TempDir()
	os.MkdirAll(OverrideDir(override), 0o755)
	os.WriteFile(filepath.Join(OverrideDir(override), "shimx64.efi"), []byte("debian shim"), 0o644)
	w := WithImages{Set: NewFrom(Dirs{DataDir: override}, nil), AssetsDir: assets}

	for name, want := range map[string]string{
		ImageLoaderPath(fcosDir, "shimx64.efi"):       "fedora shim",
		"/" + ImageLoaderPath(fcosDir, "grubx64.efi"): "fedora grub",
		"shimx64.efi": "debian shim", // the server-wide set is untouched
	} {
		f, err := w.Open(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, _ := io.ReadAll(f)
		f.Close()
		if string(b) != want {
			t.Errorf("%s = %q, want %q", name, b, want)
		}
		if !w.Has(name) {
			t.Errorf("Has(%s) = false", name)
		}
	}
	f, _ := w.Open(ImageLoaderPath(fcosDir, "shimx64.efi"))
	if f.Name() != "shimx64.efi" || f.Source() != "image "+fcosDir {
		t.Errorf("name %q source %q: events and the ladder key on the plain name", f.Name(), f.Source())
	}
	f.Close()

	for name, want := range map[string]error{
		ImageLoaderPath(fcosDir, "revocations_sbat.efi"):     ErrNotFound, // shim's optional probe
		ImageLoaderPath(fcosDir, "shimaa64.efi"):             ErrNotFound,
		ImageLoaderPath("fedora-coreos/none", "shimx64.efi"): ErrNotFound,
		ImageLoaderPath(fcosDir, "kernel"):                   ErrRefused, // only loaders
		ImageLoaderPath(fcosDir, "ipxe.efi"):                 ErrRefused,
		ImageLoaderPath(fcosDir, "mmx64.efi"):                ErrRefused,
		"img/" + fcosDir + "/../../../../../etc/passwd":      ErrRefused,
		"img/" + fcosDir + "/./shimx64.efi":                  ErrRefused,
		"img//shimx64.efi":                                   ErrRefused,
		"img/shimx64.efi":                                    ErrRefused,
		"img/a\\b/shimx64.efi":                               ErrRefused,
		"img/a b/shimx64.efi":                                ErrRefused,
		"img/evil/x/grubx64.efi":                             ErrRefused, // symlink out of the store
		"img/evil/escape/x/grubx64.efi":                      ErrRefused,
	} {
		f, err := w.Open(name)
		if err == nil {
			f.Close()
			t.Errorf("%q was served", name)
			continue
		}
		if !errors.Is(err, want) {
			t.Errorf("%q: %v, want %v", name, err, want)
		}
		if w.Has(name) {
			t.Errorf("Has(%q) = true", name)
		}
	}
	if !Optional(ImageLoaderPath(fcosDir, "revocations_sku.efi")) || !Optional("/shim_certificate_0.efi") || Optional(ImageLoaderPath(fcosDir, "shimx64.efi")) {
		t.Error("Optional: shim's probes under an image's folder are as optional as at the root")
	}
	if !ImageHasLoaders(assets, fcosDir, ArchEFIx64) || ImageHasLoaders(assets, fcosDir, ArchEFIARM64) || ImageHasLoaders(assets, "generic/debian", ArchEFIx64) {
		t.Error("ImageHasLoaders")
	}
	// No asset store: nothing under img/, the rest as before.
	none := WithImages{Set: NewFrom(Dirs{DataDir: override}, nil)}
	if none.Has(ImageLoaderPath(fcosDir, "shimx64.efi")) || !none.Has("shimx64.efi") {
		t.Error("without an asset store")
	}
}
