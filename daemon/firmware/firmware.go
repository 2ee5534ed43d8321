// Package firmware finds and opens the iPXE first-stage files pixie sends to
// network-booting machines (over TFTP, and over HTTP to UEFI HTTP boot
// clients).
//
// A Set looks in three kinds of source, in this order, and per file the
// first source that has it wins:
//
//  1. the data directory's firmware/ override directory, where an
//     administrator drops their own iPXE builds;
//  2. the firmware embedded in the binary (package assets/firmware), if the
//     binary was built after `make firmware`;
//  3. the OS's iPXE package directories (DefaultOSDirs: Debian and Ubuntu
//     install to /usr/lib/ipxe, Fedora to /usr/share/ipxe).
//
// So an override replaces one file without hiding the others, and a machine
// with the ipxe package installed needs nothing else.
//
// # Names
//
// Clients ask for the names in Known: undionly.kpxe (BIOS), ipxe.efi and
// snponly.efi (x86-64 UEFI), ipxe-i386.efi (32-bit UEFI) and ipxe-arm64.efi
// (arm64 UEFI). The override directory and the embedded set use exactly
// these names and may hold other files too (a custom build under another
// name, say). OS package directories are not pixie's: only the known files
// are served from them, under the file names the packages use (Fedora's
// ipxe-x86_64.efi is served as ipxe.efi, its arm64-efi/ipxe.efi as
// ipxe-arm64.efi). Everything else there, such as the NIC option ROMs in
// /usr/lib/ipxe/qemu, is never served.
//
// # Safety
//
// Every name is a client's, so it is checked by CleanName before any file
// system is touched: it must be a single plain file name. One leading "/"
// is removed first, because PXE firmware commonly asks for "/undionly.kpxe"
// meaning the root of the TFTP tree. The override directory is opened with
// os.OpenRoot, so a symlink in it that leads outside it is refused (a
// symlink to another file inside it is followed). Only regular files are
// served. Symlinks in OS package directories are followed because the
// package puts them there (Debian's /usr/lib/ipxe/ipxe.efi points to
// /boot/ipxe.efi) and a client name only ever selects one of the fixed
// package file names.
package firmware

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pixie-boot/pixie/daemon/api"
)

// Arch is a client architecture family that needs its own first-stage
// file. The values are the ones boot events carry in events.Event.Arch.
type Arch string

const (
	ArchBIOS     Arch = "bios"      // legacy BIOS PXE
	ArchEFIx64   Arch = "efi-x64"   // x86-64 UEFI
	ArchEFIIA32  Arch = "efi-ia32"  // 32-bit x86 UEFI
	ArchEFIARM64 Arch = "efi-arm64" // arm64 UEFI
)

// Source names in File.Source and FileStatus.Source. An OS package
// directory is named by its path, e.g. "/usr/lib/ipxe".
const (
	SourceDataDir  = "data-dir"
	SourceEmbedded = "embedded"
)

// KnownFile is one first-stage file pixie knows how to offer.
type KnownFile struct {
	// Name is what clients ask for and what the override directory and
	// the embedded set call the file.
	Name string
	Arch Arch
	// OSNames are the paths, relative to an OS package directory, tried in
	// order for this file: Debian's name first, then Fedora's.
	OSNames []string
}

// Known returns the first-stage files pixie knows, grouped by architecture
// in the order of Arches and, within one architecture, in order of
// preference. The slice is new on every call.
func Known() []KnownFile {
	return []KnownFile{
		{Name: "undionly.kpxe", Arch: ArchBIOS, OSNames: []string{"undionly.kpxe"}},
		{Name: "ipxe.efi", Arch: ArchEFIx64, OSNames: []string{"ipxe.efi", "ipxe-x86_64.efi"}},
		{Name: "snponly.efi", Arch: ArchEFIx64, OSNames: []string{"snponly.efi", "ipxe-snponly-x86_64.efi"}},
		{Name: "ipxe-i386.efi", Arch: ArchEFIIA32, OSNames: []string{"ipxe-i386.efi"}},
		{Name: "ipxe-arm64.efi", Arch: ArchEFIARM64, OSNames: []string{"ipxe-arm64.efi", "arm64-efi/ipxe.efi"}},
	}
}

// Arches returns the architectures of Known, in report order.
func Arches() []Arch { return []Arch{ArchBIOS, ArchEFIx64, ArchEFIIA32, ArchEFIARM64} }

// ArchOf returns the architecture of a known file name (as CleanName
// returns it), for attributing a download to a kind of client.
func ArchOf(name string) (Arch, bool) {
	k, ok := known(name)
	return k.Arch, ok
}

func known(name string) (KnownFile, bool) {
	for _, k := range Known() {
		if k.Name == name {
			return k, true
		}
	}
	return KnownFile{}, false
}

// DefaultOSDirs returns where OS iPXE packages install their files on this
// OS (osdirs_*.go).
func DefaultOSDirs() []string { return osDirs() }

// OverrideDir returns the override directory inside a data directory.
func OverrideDir(dataDir string) string { return filepath.Join(dataDir, "firmware") }

// Errors Open returns. Test for them with errors.Is.
var (
	// ErrNotFound means no source has the file.
	ErrNotFound = errors.New("no such firmware file")
	// ErrRefused means the name, or what it resolves to, is not allowed;
	// the error is a *RefusedError that says why.
	ErrRefused = errors.New("firmware name refused")
)

// RefusedError says why a name was refused. It matches ErrRefused.
type RefusedError struct {
	Name   string // the name as the client gave it
	Reason string // e.g. "parent directory (..)"
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("firmware name %s refused: %s", quote(e.Name), e.Reason)
}

// Unwrap makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Unwrap() error { return ErrRefused }

func refused(reason string) *RefusedError { return &RefusedError{Reason: reason} }

// quote quotes a client-supplied name for messages, cut short so that a
// hostile 500-byte name does not flood the log.
func quote(name string) string {
	const max = 80
	if len(name) > max {
		return fmt.Sprintf("%q… (%d bytes)", name[:max], len(name))
	}
	return fmt.Sprintf("%q", name)
}

// MaxNameLen is the longest name CleanName accepts, in bytes: the usual
// file system limit, far above any firmware name.
const MaxNameLen = 255

// CleanName validates a name a client asked for and returns the file name
// to look up. It removes one leading "/" (firmware often asks for
// "/ipxe.efi"); what is left must be a single file name of letters, digits
// and "._+-~", not starting with a dot. Anything else is a *RefusedError:
// traversal ("..", "a/../../x"), directories ("/etc/passwd" asks for
// "etc/passwd"), absolute paths ("//etc/passwd"), backslashes, NUL and other
// control bytes, empty and over-long names.
func CleanName(name string) (string, error) {
	clean, err := cleanName(name)
	if err != nil {
		err.Name = name
		return "", err
	}
	return clean, nil
}

func cleanName(name string) (string, *RefusedError) {
	n := strings.TrimPrefix(name, "/")
	switch {
	case n == "":
		return "", refused("empty name")
	case len(n) > MaxNameLen:
		return "", refused(fmt.Sprintf("name too long (%d bytes, at most %d)", len(n), MaxNameLen))
	case strings.ContainsRune(n, 0):
		return "", refused("NUL byte in name")
	case strings.ContainsRune(n, '\\'):
		return "", refused("backslash in name")
	}
	for _, elem := range strings.Split(n, "/") {
		if elem == ".." {
			return "", refused("parent directory (..)")
		}
	}
	switch {
	case strings.HasPrefix(n, "/"):
		return "", refused("absolute path")
	case strings.Contains(n, "/"):
		return "", refused("directories are not served: firmware names are plain file names")
	case n[0] == '.':
		return "", refused("name starts with a dot")
	}
	for _, c := range []byte(n) {
		if !nameByte(c) {
			if c < 0x20 || c >= 0x7f {
				return "", refused(fmt.Sprintf("byte %#02x in name", c))
			}
			return "", refused(fmt.Sprintf("character %q in name", c))
		}
	}
	if !fs.ValidPath(n) { // implied by the above; kept as the last word
		return "", refused("not a valid path")
	}
	return n, nil
}

func nameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == '_' || c == '-' || c == '+' || c == '~'
}

// File is an open firmware file. Close it when done.
type File struct {
	r       io.ReadSeeker
	c       io.Closer
	name    string
	source  string
	path    string
	size    int64
	modTime time.Time
}

// Read reads from the file.
func (f *File) Read(p []byte) (int, error) { return f.r.Read(p) }

// Seek sets the offset of the next Read (io.Seeker), which is how TFTP's
// tsize and HTTP's Content-Length and ranges learn the size.
func (f *File) Seek(offset int64, whence int) (int64, error) { return f.r.Seek(offset, whence) }

// Close releases the file.
func (f *File) Close() error { return f.c.Close() }

// Name is the file name served, e.g. "ipxe.efi".
func (f *File) Name() string { return f.name }

// Size is the file's length in bytes.
func (f *File) Size() int64 { return f.size }

// ModTime is the file's modification time (zero for embedded files).
func (f *File) ModTime() time.Time { return f.modTime }

// Source says where the file comes from: SourceDataDir, SourceEmbedded or
// an OS package directory such as "/usr/lib/ipxe".
func (f *File) Source() string { return f.source }

// Path is the file's path on disk, e.g. "/usr/lib/ipxe/ipxe.efi", or ""
// for an embedded file.
func (f *File) Path() string { return f.path }

// Set is the firmware pixie serves, looked up per file across its sources.
// It holds no open files and reads the sources on every Open, so files
// added or removed while pixie runs are seen at once. It is safe for
// concurrent use.
type Set struct {
	sources []source

	// has remembers for hasTTL that a file is there: the proxyDHCP server
	// asks for every boot request, and opening the file each time was a
	// tenth of its CPU under load. A file added is seen at once, one
	// removed within hasTTL.
	hasMu sync.Mutex
	has   map[string]hasAnswer
	now   func() time.Time
}

type hasAnswer struct{ at time.Time }

const hasTTL = 2 * time.Second

// source is one place firmware comes from. open gets a name CleanName
// accepted and returns an error matching ErrNotFound when it lacks the
// file, a *RefusedError (Name unset) when it refuses it, or another error
// when it has the file but cannot open it.
type source interface {
	label() string
	describe() string
	open(name string) (*File, error)
}

// New returns the Set served from, in order of precedence, the override
// directory OverrideDir(dataDir) (skipped when dataDir is ""), the embedded
// files (skipped when nil; it is meant for an in-memory file system such as
// the one assets/firmware returns) and the OS package directories osDirs
// (usually DefaultOSDirs). Sources that do not exist are not an error: they
// have no files.
func New(dataDir string, embedded fs.FS, osDirs []string) *Set {
	s := &Set{has: make(map[string]hasAnswer), now: time.Now}
	if dataDir != "" {
		s.sources = append(s.sources, rootSource{dir: OverrideDir(dataDir)})
	}
	if embedded != nil {
		s.sources = append(s.sources, fsSource{fsys: embedded})
	}
	for _, d := range osDirs {
		s.sources = append(s.sources, osSource{dir: d})
	}
	return s
}

// Open opens the file a client named, from the first source that has it.
// The error matches ErrRefused (a *RefusedError) when the name or what it
// resolves to is not allowed, ErrNotFound when no source has the file, and
// is anything else when a source has the file but cannot read it. A refused
// or unreadable file in one source is reported rather than served from a
// later one, so a broken override does not go unnoticed.
func (s *Set) Open(name string) (*File, error) {
	clean, rerr := cleanName(name)
	if rerr != nil {
		rerr.Name = name
		return nil, rerr
	}
	for _, src := range s.sources {
		f, err := src.open(clean)
		if err == nil {
			return f, nil
		}
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if r, ok := errors.AsType[*RefusedError](err); ok {
			r.Name = name
			r.Reason += " (" + src.describe() + ")"
			return nil, r
		}
		return nil, fmt.Errorf("firmware %s from %s: %w", quote(clean), src.describe(), err)
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, quote(clean))
}

// OpenReader is Open for callers that want only the bytes, such as the HTTP
// server's firmware route.
func (s *Set) OpenReader(name string) (io.ReadSeekCloser, error) {
	f, err := s.Open(name)
	if err != nil {
		return nil, err // not f: a nil *File in an interface is not nil
	}
	return f, nil
}

// Has reports whether name can be served. The proxyDHCP server asks before
// offering a file, so a machine is never sent to a file that is missing.
func (s *Set) Has(name string) bool {
	now := s.now()
	s.hasMu.Lock()
	a, ok := s.has[name]
	s.hasMu.Unlock()
	if ok && now.Sub(a.at) < hasTTL {
		return true
	}
	f, err := s.Open(name)
	if err != nil {
		return false
	}
	f.Close()
	s.hasMu.Lock()
	defer s.hasMu.Unlock()
	if len(s.has) > 64 {
		// Only the few first-stage names are ever asked for; anything
		// else is not worth remembering.
		clear(s.has)
	}
	s.has[name] = hasAnswer{at: now}
	return true
}

// Sources describes where the Set looks, in order of precedence, e.g.
// "data-dir /var/lib/pixie/firmware", "embedded", "/usr/lib/ipxe": what to
// tell someone whose firmware is missing.
func (s *Set) Sources() []string {
	out := make([]string, len(s.sources))
	for i, src := range s.sources {
		out[i] = src.describe()
	}
	return out
}

// FileStatus is one known file in a Report.
type FileStatus struct {
	Name   string `json:"name"`
	Found  bool   `json:"found"`
	Source string `json:"source,omitempty"` // where it is served from, when found
	Path   string `json:"path,omitempty"`   // the file on disk; "" if embedded
	Size   int64  `json:"size,omitempty"`
	// Problem says why a file that is present cannot be served (a refused
	// symlink, an unreadable file). Found is false then.
	Problem string `json:"problem,omitempty"`
}

// ArchReport is what the Set can serve to one architecture.
type ArchReport struct {
	Arch Arch `json:"arch"`
	// Files lists every known file of the architecture, found or not, in
	// order of preference.
	Files []FileStatus `json:"files"`
}

// Ready reports whether at least one file for the architecture is found.
func (r ArchReport) Ready() bool { return len(r.Found()) > 0 }

// Found returns the files that can be served.
func (r ArchReport) Found() []FileStatus {
	var out []FileStatus
	for _, f := range r.Files {
		if f.Found {
			out = append(out, f)
		}
	}
	return out
}

// Missing returns the names of the files that cannot be served.
func (r ArchReport) Missing() []string {
	var out []string
	for _, f := range r.Files {
		if !f.Found {
			out = append(out, f.Name)
		}
	}
	return out
}

// String is one line for a startup banner, e.g.
//
//	efi-x64: ipxe.efi (/usr/lib/ipxe, 850528 bytes); missing snponly.efi
func (r ArchReport) String() string {
	var found, missing []string
	for _, f := range r.Files {
		switch {
		case f.Found:
			found = append(found, fmt.Sprintf("%s (%s, %d bytes)", f.Name, f.Source, f.Size))
		case f.Problem != "":
			missing = append(missing, fmt.Sprintf("%s (%s)", f.Name, f.Problem))
		default:
			missing = append(missing, f.Name)
		}
	}
	var b strings.Builder
	b.WriteString(string(r.Arch) + ": ")
	if len(found) == 0 {
		b.WriteString("nothing to serve")
	} else {
		b.WriteString(strings.Join(found, ", "))
	}
	if len(missing) > 0 {
		b.WriteString("; missing " + strings.Join(missing, ", "))
	}
	return b.String()
}

// Report says, for each architecture in Arches, which known files are
// found and where, and which are missing. It is for `pixie serve`'s banner
// and `pixie status`; it opens each file but reads nothing.
func (s *Set) Report() []ArchReport {
	var out []ArchReport
	for _, arch := range Arches() {
		r := ArchReport{Arch: arch}
		for _, k := range Known() {
			if k.Arch != arch {
				continue
			}
			st := FileStatus{Name: k.Name}
			f, err := s.Open(k.Name)
			switch {
			case err == nil:
				st.Found, st.Source, st.Path, st.Size = true, f.Source(), f.Path(), f.Size()
				f.Close()
			case !errors.Is(err, ErrNotFound):
				st.Problem = err.Error()
			}
			r.Files = append(r.Files, st)
		}
		out = append(out, r)
	}
	return out
}

// rootSource is the override directory. Names are resolved with os.Root,
// which refuses symlinks that leave the directory.
type rootSource struct{ dir string }

func (r rootSource) label() string    { return SourceDataDir }
func (r rootSource) describe() string { return SourceDataDir + " " + r.dir }

func (r rootSource) open(name string) (*File, error) {
	root, err := os.OpenRoot(r.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	defer root.Close() // files opened through it stay open
	// Stat before Open: opening a FIFO would block, and a directory is no
	// firmware.
	fi, err := root.Stat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		if li, lerr := root.Lstat(name); lerr == nil && li.Mode()&fs.ModeSymlink != 0 {
			return nil, refused("symlink leads outside the firmware directory")
		}
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, refused("not a regular file")
	}
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	return osFile(f, name, r.label(), filepath.Join(r.dir, name))
}

// osSource is an OS package directory: only known files, under the
// package's names, with the package's symlinks followed.
type osSource struct{ dir string }

func (o osSource) label() string    { return o.dir }
func (o osSource) describe() string { return o.dir }

func (o osSource) open(name string) (*File, error) {
	k, ok := known(name)
	if !ok {
		return nil, ErrNotFound
	}
	for _, rel := range k.OSNames {
		p := filepath.Join(o.dir, filepath.FromSlash(rel))
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !fi.Mode().IsRegular() {
			continue // not the package's file, whatever it is
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		return osFile(f, name, o.label(), p)
	}
	return nil, ErrNotFound
}

// osFile wraps an opened *os.File, checking again that it is a regular
// file: it may have been replaced since it was looked at.
func osFile(f *os.File, name, source, path string) (*File, error) {
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, refused("not a regular file")
	}
	return &File{r: f, c: f, name: name, source: source, path: path, size: fi.Size(), modTime: fi.ModTime()}, nil
}

// fsSource is the embedded firmware.
type fsSource struct{ fsys fs.FS }

func (e fsSource) label() string    { return SourceEmbedded }
func (e fsSource) describe() string { return SourceEmbedded }

// maxUnseekable bounds what open reads into memory for a file system whose
// files cannot seek; iPXE binaries are around a megabyte.
const maxUnseekable = 64 << 20

func (e fsSource) open(name string) (*File, error) {
	// An fs.FS over a real directory (os.DirFS) follows symlinks anywhere;
	// refuse them where the file system can tell.
	if _, ok := e.fsys.(fs.ReadLinkFS); ok {
		li, err := fs.Lstat(e.fsys, name)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, ErrNotFound
		}
		if err != nil {
			return nil, err
		}
		if li.Mode()&fs.ModeSymlink != 0 {
			return nil, refused("symlink in the embedded file system")
		}
	}
	f, err := e.fsys.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, refused("not a regular file")
	}
	out := &File{c: f, name: name, source: SourceEmbedded, size: fi.Size(), modTime: fi.ModTime()}
	if rs, ok := f.(io.ReadSeeker); ok { // embed.FS files can seek
		out.r = rs
		return out, nil
	}
	if fi.Size() > maxUnseekable {
		f.Close()
		return nil, fmt.Errorf("%s is %d bytes and cannot seek", name, fi.Size())
	}
	b, err := io.ReadAll(io.LimitReader(f, maxUnseekable))
	if err != nil {
		f.Close()
		return nil, err
	}
	out.r, out.size = bytes.NewReader(b), int64(len(b))
	return out, nil
}

// StatusReport is the Report as the control API carries it (`pixie status`,
// `pixie doctor`).
func (s *Set) StatusReport() []api.Firmware {
	var out []api.Firmware
	for _, r := range s.Report() {
		a := api.Firmware{Arch: string(r.Arch), Files: []api.FirmwareFile{}, Missing: r.Missing()}
		for _, f := range r.Found() {
			a.Files = append(a.Files, api.FirmwareFile{Name: f.Name, Source: f.Source})
		}
		out = append(out, a)
	}
	return out
}
