package firmware

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

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

// osSource is an OS package directory: only known files of its kind
// (iPXE, or the Secure Boot loaders), under the package's names, with the
// package's symlinks followed.
type osSource struct {
	dir     string
	loaders bool
}

func (o osSource) label() string    { return o.dir }
func (o osSource) describe() string { return o.dir }

func (o osSource) open(name string) (*File, error) {
	k, ok := known(name)
	if !ok || (k.Kind != KindIPXE) != o.loaders {
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
