package tftp

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pixie-boot/pixie/daemon/firmware"
)

// roots is a firmware set on disk with a secret beside it.
type roots struct {
	set    *firmware.Set
	dirs   []string // the directories files may be served from
	base   string   // holds the dirs and the secret file
	secret []byte   // the secret file's bytes, never to be served
}

// fuzzRoots lays out what FuzzFileName resolves names against: a data dir's
// firmware directory and a fake OS package directory, each with files and
// escape hatches (symlinks out, a subdirectory), and a secret beside them
// that no name may reach.
func fuzzRoots(t testing.TB) roots {
	base := t.TempDir()
	dataDir := filepath.Join(base, "data")
	fw := firmware.OverrideDir(dataDir)
	osDir := filepath.Join(base, "usr-lib-ipxe")
	secret := []byte("TOP-SECRET-BESIDE-THE-ROOT")
	for _, d := range []string{fw, filepath.Join(fw, "sub"), osDir, filepath.Join(osDir, "qemu")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		filepath.Join(fw, "undionly.kpxe"):      "bios",
		filepath.Join(fw, "ipxe.efi"):           "efi",
		filepath.Join(fw, "custom.efi"):         "custom",
		filepath.Join(fw, "sub", "nested.efi"):  "nested",
		filepath.Join(osDir, "ipxe-arm64.efi"):  "arm64",
		filepath.Join(osDir, "qemu", "rom.rom"): "rom",
		filepath.Join(base, "secret"):           string(secret),
		filepath.Join(base, "data", "pixie.db"): string(secret),
		// An OS package directory is served only by the known names, so
		// other files in it stay private.
		filepath.Join(osDir, "notes.txt"): string(secret),
	}
	for p, body := range files {
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		filepath.Join(fw, "abs.efi"):    filepath.Join(base, "secret"),
		filepath.Join(fw, "rel.efi"):    "../../secret",
		filepath.Join(fw, "up"):         "..",
		filepath.Join(fw, "inside.efi"): "ipxe.efi", // inside the root: allowed
	}
	for link, target := range links {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	return roots{set: firmware.New(dataDir, nil, []string{osDir}), dirs: []string{fw, osDir}, base: base, secret: secret}
}

// FuzzFileName: whatever name a TFTP client asks for, the firmware set
// either refuses it or opens a regular file inside one of its roots, under
// the cleaned name, and never the secret beside them.
func FuzzFileName(f *testing.F) {
	for _, s := range []string{
		"undionly.kpxe", "/ipxe.efi", "ipxe-arm64.efi", "inside.efi", "custom.efi",
		"..", "../secret", "../../secret", "/../secret", "//secret", "sub/nested.efi",
		"up/secret", "up/../secret", "abs.efi", "rel.efi", "notes.txt",
		"..\\..\\secret", "%2e%2e%2fsecret", "ipxe.efi\x00../secret", "ipxe.efi/",
		".", "", "/", "qemu/rom.rom", "../data/pixie.db", strings.Repeat("a", 256),
		"ipxe.efi\r\n", "ipxe\u2215efi", "\xff\xfe", "C:\\secret",
	} {
		f.Add(s)
	}
	r := fuzzRoots(f)
	f.Fuzz(func(t *testing.T, name string) {
		file, err := r.set.Open(name)
		if err != nil {
			if !errors.Is(err, firmware.ErrRefused) && !errors.Is(err, firmware.ErrNotFound) {
				t.Fatalf("Open(%q): unexpected error kind %v", name, err)
			}
			if file != nil {
				t.Fatalf("Open(%q) returned a file and an error", name)
			}
			return
		}
		defer file.Close()
		clean, cerr := firmware.CleanName(name)
		if cerr != nil || file.Name() != clean {
			t.Fatalf("Open(%q) served %q although CleanName says %q, %v", name, file.Name(), clean, cerr)
		}
		if strings.ContainsAny(clean, "/\\\x00") || strings.HasPrefix(clean, ".") {
			t.Fatalf("Open(%q) accepted the path-like name %q", name, clean)
		}
		real, err := filepath.EvalSymlinks(file.Path())
		if err != nil {
			t.Fatalf("served path %s: %v", file.Path(), err)
		}
		inside := false
		for _, root := range r.dirs {
			if rel, err := filepath.Rel(root, real); err == nil && !strings.HasPrefix(rel, "..") && !filepath.IsAbs(rel) {
				inside = true
			}
		}
		if !inside {
			t.Fatalf("Open(%q) served %s, outside the roots %v", name, real, r.dirs)
		}
		got, err := io.ReadAll(file)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(got, r.secret) {
			t.Fatalf("Open(%q) served the secret", name)
		}
	})
}
