// Package firmware carries the iPXE first-stage binaries built into a
// self-contained pixie binary.
//
// The binaries are build inputs, never committed: `make firmware` runs
// fetch-debian-ipxe.sh, which drops Debian's undionly.kpxe, ipxe.efi and
// snponly.efi into this directory, and the next `go build` embeds them. A
// plain checkout embeds no firmware, and pixie then serves the OS's iPXE
// package or the data directory's firmware/ overrides instead.
//
// The embed pattern is "*" so that it matches whatever binaries are present
// without a build tag: README.md and COPYING.ipxe are always there, so the
// pattern never comes up empty. Files hides everything that is not
// firmware.
package firmware

import (
	"embed"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// dir is this directory as it was at build time, including the files that
// are not firmware (this source file, the notices, the fetch script).
//
//go:embed *
var dir embed.FS

// isFirmware reports whether name is a top-level file with a firmware
// extension: UEFI applications (.efi) and PXE network boot programs
// (.kpxe, .kkpxe, .pxe).
func isFirmware(name string) bool {
	if strings.Contains(name, "/") {
		return false
	}
	switch path.Ext(name) {
	case ".efi", ".kpxe", ".kkpxe", ".pxe":
		return true
	}
	return false
}

// Files returns the embedded firmware files: the top-level .efi, .kpxe,
// .kkpxe and .pxe files. It is empty in a build made without `make
// firmware`.
func Files() fs.FS { return firmwareFS{} }

// Provenance returns what fetch-debian-ipxe.sh recorded about the embedded
// binaries (the Debian package and version they came from, their sha256
// sums and Debian's copyright file), or "" when no firmware is embedded.
// The corresponding source code is found from it, as the GPL requires.
func Provenance() string {
	b, err := dir.ReadFile("PROVENANCE.txt")
	if err != nil {
		return ""
	}
	return string(b)
}

// Notice returns the licence notice for the embedded iPXE binaries.
func Notice() string {
	b, err := dir.ReadFile("COPYING.ipxe")
	if err != nil {
		// The file is committed next to this one; a build without it
		// cannot happen, but say where the text lives if it does.
		return "iPXE is licensed under the GNU GPL version 2 or later; source: https://github.com/ipxe/ipxe\n"
	}
	return string(b)
}

// firmwareFS is dir with everything but firmware hidden. Its methods are
// consistent with each other (Open("."), ReadDir, Stat), as testing/fstest
// checks.
type firmwareFS struct{}

func (firmwareFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		d, err := dir.Open(".")
		if err != nil {
			return nil, err
		}
		entries, err := firmwareFS{}.ReadDir(".")
		if err != nil {
			d.Close()
			return nil, err
		}
		return &rootDir{File: d, entries: entries}, nil
	}
	if !isFirmware(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return dir.Open(name)
}

func (firmwareFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if name != "." {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	all, err := dir.ReadDir(".")
	if err != nil {
		return nil, err
	}
	var out []fs.DirEntry
	for _, e := range all {
		if e.Type().IsRegular() && isFirmware(e.Name()) {
			out = append(out, e)
		}
	}
	return out, nil
}

// rootDir is the filtered listing of the top directory.
type rootDir struct {
	fs.File // the embedded directory: Stat and Close
	entries []fs.DirEntry
	off     int
}

func (d *rootDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: ".", Err: fs.ErrInvalid}
}

// ReadDir follows fs.ReadDirFile: n <= 0 returns all remaining entries and
// a nil error; n > 0 returns at most n and io.EOF once none are left.
func (d *rootDir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return slices.Clone(rest), nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(rest))
	d.off += n
	return slices.Clone(rest[:n]), nil
}
