// Command debextract copies named files out of a Debian .deb without dpkg,
// so `make firmware` also runs on a Mac:
//
//	go run ./packaging/debextract -deb ipxe_1.0.0_all.deb -out DIR usr/lib/ipxe/ipxe.efi ...
//
// A .deb is an ar archive whose data.tar.{gz,xz,zst} member holds the
// files. gzip is read in Go; xz and zstd streams go through the `xz` or
// `zstd` command (macOS: `brew install xz zstd`). Symbolic links inside
// the package (Debian links /usr/lib/ipxe/ipxe.efi to /boot/ipxe.efi) are
// followed inside the package, never on this machine. Each file is written
// to DIR under its base name; nothing is written unless every file was
// found.
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

func main() {
	deb := flag.String("deb", "", "the .deb file")
	out := flag.String("out", ".", "directory the files are written to")
	flag.Parse()
	if *deb == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: debextract -deb FILE.deb -out DIR PATH-IN-PACKAGE...")
		os.Exit(2)
	}
	if err := run(*deb, *out, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "debextract:", err)
		os.Exit(1)
	}
}

func run(deb, out string, want []string) error {
	f, err := os.Open(deb)
	if err != nil {
		return err
	}
	defer f.Close()
	files, err := Extract(f, want)
	if err != nil {
		return fmt.Errorf("%s: %w", deb, err)
	}
	for _, w := range want {
		dst := filepath.Join(out, path.Base(w))
		if err := os.WriteFile(dst+".tmp", files[w], 0o644); err != nil {
			return err
		}
		if err := os.Rename(dst+".tmp", dst); err != nil {
			return err
		}
		fmt.Printf("debextract: %s (%d bytes)\n", dst, len(files[w]))
	}
	return nil
}

// Extract returns the contents of each wanted path (relative, as in the
// package: "usr/lib/ipxe/ipxe.efi") from the .deb read from r.
func Extract(r io.Reader, want []string) (map[string][]byte, error) {
	name, data, err := dataMember(r)
	if err != nil {
		return nil, err
	}
	tr, closeFn, err := decompress(name, data)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	return pick(tar.NewReader(tr), want)
}

// dataMember finds the data.tar.* member of an ar archive (the common
// format: "!<arch>\n", then 60-byte headers, members padded to even
// length).
func dataMember(r io.Reader) (string, io.Reader, error) {
	br := bufio.NewReader(r)
	magic := make([]byte, 8)
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != "!<arch>\n" {
		return "", nil, errors.New("not a Debian package (no ar archive header)")
	}
	hdr := make([]byte, 60)
	for {
		if _, err := io.ReadFull(br, hdr); err != nil {
			if errors.Is(err, io.EOF) {
				return "", nil, errors.New("the package has no data.tar member")
			}
			return "", nil, fmt.Errorf("truncated ar header: %w", err)
		}
		if hdr[58] != '`' || hdr[59] != '\n' {
			return "", nil, errors.New("corrupt ar member header")
		}
		name := strings.TrimRight(strings.TrimSpace(string(hdr[0:16])), "/")
		size, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
		if err != nil || size < 0 {
			return "", nil, fmt.Errorf("ar member %q: bad size %q", name, hdr[48:58])
		}
		if strings.HasPrefix(name, "data.tar") {
			return name, io.LimitReader(br, size), nil
		}
		if _, err := io.CopyN(io.Discard, br, size+size%2); err != nil {
			return "", nil, fmt.Errorf("ar member %q truncated: %w", name, err)
		}
	}
}

func decompress(name string, r io.Reader) (io.Reader, func() error, error) {
	switch path.Ext(name) {
	case ".tar":
		return r, func() error { return nil }, nil
	case ".gz":
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		return z, z.Close, nil
	case ".xz":
		return viaCommand(name, r, "xz", "-dc")
	case ".zst":
		return viaCommand(name, r, "zstd", "-dc")
	}
	return nil, nil, fmt.Errorf("%s: unknown compression", name)
}

// viaCommand decompresses with an external program; the whole member is
// read to memory first (firmware packages are a few MB).
func viaCommand(name string, r io.Reader, prog string, args ...string) (io.Reader, func() error, error) {
	if _, err := exec.LookPath(prog); err != nil {
		return nil, nil, fmt.Errorf("%s needs the %s command to unpack: install it (macOS: brew install %s; Debian: apt install %s)", name, prog, prog, map[string]string{"xz": "xz-utils", "zstd": "zstd"}[prog])
	}
	var out, stderr bytes.Buffer
	cmd := exec.Command(prog, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = r, &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, nil, fmt.Errorf("%s: %s %s: %v: %s", name, prog, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return &out, func() error { return nil }, nil
}

// pick reads the tar stream once, keeping regular files and symlinks, then
// resolves each wanted path through links inside the package.
func pick(tr *tar.Reader, want []string) (map[string][]byte, error) {
	links := map[string]string{}
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("data.tar: %w", err)
		}
		p := clean(h.Name)
		switch h.Typeflag {
		case tar.TypeSymlink:
			t := h.Linkname
			if !strings.HasPrefix(t, "/") {
				t = path.Join(path.Dir(p), t)
			}
			links[p] = clean(t)
		case tar.TypeReg:
			// Every file is kept: a wanted path may be a link to any of
			// them, and a compressed stream is read only once. Huge ones
			// are no firmware.
			if h.Size > 64<<20 {
				continue
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, fmt.Errorf("data.tar %s: %w", p, err)
			}
			files[p] = b
		}
	}
	out := map[string][]byte{}
	var missing []string
	for _, w := range want {
		p := clean(w)
		for range 8 { // a link chain longer than this is a loop
			t, ok := links[p]
			if !ok {
				break
			}
			p = t
		}
		b, ok := files[p]
		if !ok {
			missing = append(missing, w)
			continue
		}
		out[w] = b
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("not in the package (or a link to nothing in it): %s", strings.Join(missing, ", "))
	}
	return out, nil
}

func clean(p string) string { return strings.TrimPrefix(path.Clean("/"+p), "/") }
