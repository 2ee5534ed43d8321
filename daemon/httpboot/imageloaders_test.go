package httpboot

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pixie-boot/pixie/daemon/firmware"
)

// A UEFI HTTP boot client offered its image's own shim fetches it, and
// the GRUB beside it, from /firmware/img/...; Fedora's GRUB then asks for
// its config in the same directory. Nothing else of the asset store is
// served there.
func TestImageLoadersOverHTTP(t *testing.T) {
	f := newFixture(t)
	const dir = "fedora-coreos/stable/x86_64/43.20251110.3.1"
	loaders := filepath.Join(f.assets, dir, firmware.ImageLoaderDir)
	os.MkdirAll(loaders, 0o755)
	os.WriteFile(filepath.Join(loaders, "shimx64.efi"), []byte("fedora shim"), 0o644)
	os.WriteFile(filepath.Join(loaders, "grubx64.efi"), []byte("fedora grub"), 0o644)
	os.WriteFile(filepath.Join(f.assets, dir, "kernel"), []byte("kernel"), 0o644)
	os.WriteFile(filepath.Join(f.assets, "first-time/vmlinuz"), []byte("kernel"), 0o644)
	os.WriteFile(filepath.Join(f.assets, "first-time/initrd.img"), []byte("initrd"), 0o644)
	fw := firmware.WithImages{Set: firmware.NewFrom(firmware.Dirs{}, nil), AssetsDir: f.assets}
	var base string
	srv := New(Config{ServerURL: func() string { return base }}, Deps{Log: slog.New(slog.DiscardHandler), Store: f.store,
		Assets: mustRoot(t, f.assets), Firmware: fw.OpenReader, Events: f.rec, Counters: f.counters})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	base = ts.URL
	get := func(path string) (int, string) {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for path, want := range map[string]string{
		"/firmware/img/" + dir + "/shimx64.efi": "fedora shim",
		"/firmware/img/" + dir + "/grubx64.efi": "fedora grub",
	} {
		if code, body := get(path); code != 200 || body != want {
			t.Errorf("GET %s = %d %q", path, code, body)
		}
	}
	code, cfg := get("/firmware/img/" + dir + "/grub.cfg-01-52-54-00-aa-bb-cc")
	if code != 200 || !strings.Contains(cfg, "/pixie/52-54-00-aa-bb-cc/kernel") {
		t.Errorf("GRUB config under the image's folder = %d:\n%s", code, cfg)
	}
	if code, _ := get("/firmware/img/" + dir + "/x86_64-efi/command.lst"); code != 404 {
		t.Errorf("GRUB's module list probe = %d, want 404", code)
	}
	for _, path := range []string{"/firmware/img/" + dir + "/kernel", "/firmware/img/" + dir + "/ipxe.efi", "/firmware/img/" + dir + "/../../../../../pixie.db", "/firmware/img/x"} {
		if code, body := get(path); code == 200 {
			t.Errorf("GET %s served %q", path, body)
		}
	}
}
