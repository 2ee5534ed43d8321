package firmware

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"time"
)

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

// Dirs are the sources of a Set besides the embedded files.
type Dirs struct {
	// DataDir holds the override directory OverrideDir(DataDir); "" for
	// none.
	DataDir string
	// OSDirs are the OS iPXE package directories (usually DefaultOSDirs);
	// only iPXE files are served from them.
	OSDirs []string
	// LoaderDirs are where OS packages put signed shim and GRUB (usually
	// DefaultLoaderDirs); only the loaders are served from them.
	LoaderDirs []string
}

// New returns the Set served from, in order of precedence, the override
// directory OverrideDir(dataDir) (skipped when dataDir is ""), the embedded
// files (skipped when nil; it is meant for an in-memory file system such as
// the one assets/firmware returns), the OS package directories osDirs
// (usually DefaultOSDirs) and the OS loader directories DefaultLoaderDirs.
// Sources that do not exist are not an error: they have no files.
func New(dataDir string, embedded fs.FS, osDirs []string) *Set {
	return NewFrom(Dirs{DataDir: dataDir, OSDirs: osDirs, LoaderDirs: DefaultLoaderDirs()}, embedded)
}

// NewFrom is New with every directory chosen by the caller.
func NewFrom(d Dirs, embedded fs.FS) *Set {
	s := &Set{has: make(map[string]hasAnswer), now: time.Now}
	if d.DataDir != "" {
		s.sources = append(s.sources, rootSource{dir: OverrideDir(d.DataDir)})
	}
	if embedded != nil {
		s.sources = append(s.sources, fsSource{fsys: embedded})
	}
	for _, dir := range d.OSDirs {
		s.sources = append(s.sources, osSource{dir: dir, loaders: false})
	}
	for _, dir := range d.LoaderDirs {
		s.sources = append(s.sources, osSource{dir: dir, loaders: true})
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
