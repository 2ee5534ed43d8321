package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tarOf builds a data.tar with the files and links given.
func tarOf(t *testing.T, files map[string]string, links map[string]string) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, d := range []string{"./", "./boot/", "./usr/", "./usr/lib/", "./usr/lib/ipxe/"} {
		tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755})
	}
	for n, c := range files {
		if err := tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(c))}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(c))
	}
	for n, target := range links {
		tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777})
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// arOf builds an ar archive as dpkg-deb does (odd-sized members padded).
func arOf(members ...[2][]byte) []byte {
	var b bytes.Buffer
	b.WriteString("!<arch>\n")
	for _, m := range members {
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", string(m[0]), 0, 0, 0, "100644", len(m[1]))
		b.Write(m[1])
		if len(m[1])%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

func gz(t *testing.T, b []byte) []byte {
	var out bytes.Buffer
	z := gzip.NewWriter(&out)
	z.Write(b)
	z.Close()
	return out.Bytes()
}

func xz(t *testing.T, b []byte) []byte {
	if _, err := exec.LookPath("xz"); err != nil {
		t.Skip("xz not installed (apt install xz-utils): the data.tar.xz case cannot run")
	}
	cmd := exec.Command("xz", "-c")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestExtract(t *testing.T) {
	files := map[string]string{
		"./boot/ipxe.efi":              "MZ efi application",
		"./usr/lib/ipxe/undionly.kpxe": "\xeaPXENV+ odd-sized!",
		"./usr/lib/ipxe/snponly.efi":   "MZ snp",
	}
	links := map[string]string{
		"./usr/lib/ipxe/ipxe.efi": "/boot/ipxe.efi", // Debian's absolute link
		"./usr/lib/ipxe/rel.efi":  "snponly.efi",
		"./usr/lib/ipxe/loop.efi": "loop.efi",
		"./usr/lib/ipxe/dead.efi": "/boot/nothing.efi",
	}
	data := tarOf(t, files, links)
	want := []string{"usr/lib/ipxe/undionly.kpxe", "usr/lib/ipxe/ipxe.efi", "usr/lib/ipxe/rel.efi"}
	cases := []struct {
		name   string
		member string
		body   func(*testing.T) []byte
	}{
		{"gzip", "data.tar.gz", func(t *testing.T) []byte { return gz(t, data) }},
		{"xz (Debian 12)", "data.tar.xz", func(t *testing.T) []byte { return xz(t, data) }},
		{"uncompressed", "data.tar", func(*testing.T) []byte { return data }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			deb := arOf([2][]byte{[]byte("debian-binary"), []byte("2.0\n")},
				[2][]byte{[]byte("control.tar.gz"), gz(t, tarOf(t, map[string]string{"./control": "Package: ipxe\n"}, nil))},
				[2][]byte{[]byte(c.member), c.body(t)})
			got, err := Extract(bytes.NewReader(deb), want)
			if err != nil {
				t.Fatal(err)
			}
			for w, content := range map[string]string{want[0]: files["./usr/lib/ipxe/undionly.kpxe"], want[1]: files["./boot/ipxe.efi"], want[2]: files["./usr/lib/ipxe/snponly.efi"]} {
				if string(got[w]) != content {
					t.Errorf("%s = %q, want %q", w, got[w], content)
				}
			}
			for _, bad := range []string{"usr/lib/ipxe/loop.efi", "usr/lib/ipxe/dead.efi", "usr/lib/ipxe/none.efi"} {
				if _, err := Extract(bytes.NewReader(deb), []string{bad}); err == nil || !strings.Contains(err.Error(), "not in the package") {
					t.Errorf("%s: err %v, want not in the package", bad, err)
				}
			}
		})
	}
}

func TestExtractRefusesNonPackages(t *testing.T) {
	cases := map[string][]byte{
		"not ar":        []byte("PK\x03\x04 a zip"),
		"no data.tar":   arOf([2][]byte{[]byte("debian-binary"), []byte("2.0\n")}),
		"truncated":     arOf([2][]byte{[]byte("data.tar.gz"), []byte("x")})[:70],
		"unknown codec": arOf([2][]byte{[]byte("data.tar.lz4"), []byte("x")}),
	}
	for name, b := range cases {
		if _, err := Extract(bytes.NewReader(b), []string{"x"}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestRealIPXEPackage unpacks Debian's own ipxe .deb (data.tar.xz), fetched
// once with `apt-get download` into the user cache, and compares with
// dpkg-deb where it is installed.
func TestRealIPXEPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads Debian's ipxe package; skipped with -short")
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skip("no apt-get here: the real ipxe .deb cannot be fetched (the built .deb cases above still ran)")
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Skip(err)
	}
	dir := filepath.Join(cache, "pixie-test", "ipxe-deb")
	debs, _ := filepath.Glob(filepath.Join(dir, "ipxe_*.deb"))
	if len(debs) == 0 {
		os.MkdirAll(dir, 0o755)
		os.Chmod(dir, 0o777) // apt-get download drops to _apt
		cmd := exec.Command("timeout", "120", "apt-get", "download", "-q", "ipxe")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Skipf("apt-get download ipxe failed (no package lists or no network?): %v\n%s", err, out)
		}
		debs, _ = filepath.Glob(filepath.Join(dir, "ipxe_*.deb"))
		if len(debs) == 0 {
			t.Skip("apt-get download ipxe left no .deb")
		}
	}
	want := []string{"usr/lib/ipxe/undionly.kpxe", "usr/lib/ipxe/ipxe.efi", "usr/lib/ipxe/snponly.efi"}
	f, err := os.Open(debs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	start := time.Now()
	got, err := Extract(f, want)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: extracted %d files in %s", filepath.Base(debs[0]), len(got), time.Since(start).Round(time.Millisecond))
	if b := got["usr/lib/ipxe/ipxe.efi"]; len(b) < 100000 || string(b[:2]) != "MZ" {
		t.Errorf("ipxe.efi: %d bytes starting %q: not an EFI application", len(b), b[:min(2, len(b))])
	}
	if b := got["usr/lib/ipxe/undionly.kpxe"]; len(b) == 0 || b[0] != 0xea {
		t.Errorf("undionly.kpxe does not start with a far jump")
	}
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		return
	}
	root := t.TempDir()
	if out, err := exec.Command("dpkg-deb", "-x", debs[0], root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
	}
	for _, w := range want {
		// Debian's links are absolute (/boot/ipxe.efi): resolve them in
		// the unpacked tree, never on this machine.
		p := filepath.Join(root, w)
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			if filepath.IsAbs(target) {
				p = filepath.Join(root, target)
			} else {
				p = filepath.Join(filepath.Dir(p), target)
			}
		}
		ref, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("%s from dpkg-deb: %v", w, err)
		}
		if sha256.Sum256(ref) != sha256.Sum256(got[w]) {
			t.Errorf("%s differs from dpkg-deb's", w)
		}
	}
}
