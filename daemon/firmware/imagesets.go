package firmware

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// A shim boots only kernels its vendor signed, so an OS image can bring
// its own shim and GRUB (Fedora's, for Fedora CoreOS) in its folder of the
// asset store: ASSETS/<image dir>/loaders/. They are served under
// ImagePrefix + <image dir> + "/" + name, e.g.
// img/fedora-coreos/stable/x86_64/43.20251110.3.1/shimx64.efi: shim loads
// GRUB from the directory it came from, so it asks for grubx64.efi there
// and gets the same image's GRUB.
const (
	ImagePrefix = "img/"
	// ImageLoaderDir is the folder of an image's loaders (images.LoaderDir).
	ImageLoaderDir = "loaders"
)

// ImageLoaderPath is the name a machine is offered for an image's own
// loader file.
func ImageLoaderPath(imageDir, name string) string {
	return ImagePrefix + strings.Trim(imageDir, "/") + "/" + name
}

// SplitImagePath splits a client's name under ImagePrefix into the image
// directory and the file name (its last element). ok is false for names
// outside ImagePrefix; err is a *RefusedError for names under it that
// cannot be an image's file (traversal, odd bytes, too deep).
func SplitImagePath(name string) (imageDir, file string, ok bool, err error) {
	n := strings.TrimPrefix(name, "/")
	rest, found := strings.CutPrefix(n, ImagePrefix)
	if !found {
		return "", "", false, nil
	}
	if len(n) > MaxNameLen {
		return "", "", true, &RefusedError{Name: name, Reason: "name too long"}
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 2 || len(parts) > 8 {
		return "", "", true, &RefusedError{Name: name, Reason: "not an image's loader (img/IMAGE-DIR/FILE)"}
	}
	for _, p := range parts {
		if p == "" || p[0] == '.' {
			return "", "", true, &RefusedError{Name: name, Reason: "empty or dot element in an image path"}
		}
		for _, c := range []byte(p) {
			if !nameByte(c) {
				return "", "", true, &RefusedError{Name: name, Reason: "character not allowed in an image path"}
			}
		}
	}
	return strings.Join(parts[:len(parts)-1], "/"), parts[len(parts)-1], true, nil
}

// ImageGRUBName is, for a name under ImagePrefix that is not one of the
// image's loaders, the name GRUB asked for relative to its own folder:
// Fedora's GRUB, loaded from img/IMAGE/, looks for img/IMAGE/grub.cfg-01-MAC
// and probes img/IMAGE/x86_64-efi/command.lst, which pixie answers as
// grub.cfg-01-MAC and grub/x86_64-efi/command.lst. ok is false for every
// other name, which is then served (or refused) as it is.
func ImageGRUBName(name string) (string, bool) {
	dir, file, ok, err := SplitImagePath(name)
	if !ok || err != nil {
		return "", false
	}
	if _, loader := known(file); loader {
		return "", false
	}
	parts := strings.Split(dir, "/")
	for i, p := range parts {
		switch p {
		case "x86_64-efi", "arm64-efi", "i386-efi", "fonts", "locale":
			return "grub/" + strings.Join(append(parts[i:], file), "/"), true
		}
	}
	return file, true
}

// WithImages is a Set that also serves the images' own loaders from the
// asset store at assetsDir. Every other name goes to the Set.
type WithImages struct {
	*Set
	AssetsDir string
}

// Open opens a firmware file, or an image's loader for a name under
// ImagePrefix. Only the known shim and GRUB names are served from an
// image (no kernel, no manifest, nothing else of the asset store); the
// optional files shim probes for are not found, as at the root.
func (w WithImages) Open(name string) (*File, error) {
	dir, file, ok, err := SplitImagePath(name)
	if !ok {
		return w.Set.Open(name)
	}
	if err != nil {
		return nil, err
	}
	k, known := known(file)
	if !known || k.Kind == KindIPXE {
		if Optional(file) {
			return nil, ErrNotFound
		}
		return nil, &RefusedError{Name: name, Reason: "only an image's shim and GRUB are served under " + ImagePrefix}
	}
	if w.AssetsDir == "" {
		return nil, ErrNotFound
	}
	root, err := os.OpenRoot(w.AssetsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	defer root.Close()
	rel := path.Join(dir, ImageLoaderDir, file)
	fi, err := root.Stat(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		// os.Root refuses a symlink out of the asset store.
		return nil, &RefusedError{Name: name, Reason: "cannot be opened inside the asset store"}
	}
	if !fi.Mode().IsRegular() {
		return nil, &RefusedError{Name: name, Reason: "not a regular file"}
	}
	f, err := root.Open(rel)
	if err != nil {
		return nil, err
	}
	out, err := osFile(f, file, "image "+dir, filepath.Join(w.AssetsDir, filepath.FromSlash(rel)))
	return out, err
}

// OpenReader is Open for callers that want only the bytes.
func (w WithImages) OpenReader(name string) (io.ReadSeekCloser, error) {
	f, err := w.Open(name)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Has reports whether name can be served (for the proxyDHCP offer).
func (w WithImages) Has(name string) bool {
	if _, _, ok, _ := SplitImagePath(name); !ok {
		return w.Set.Has(name)
	}
	f, err := w.Open(name)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// ImageHasLoaders reports whether the image at imageDir has its own shim
// for the architecture (and the GRUB that shim loads), for `pixie doctor`.
func ImageHasLoaders(assetsDir, imageDir string, arch Arch) bool {
	w := WithImages{AssetsDir: assetsDir}
	for _, k := range Known() {
		if k.Arch != arch || k.Kind == KindIPXE {
			continue
		}
		f, err := w.Open(ImageLoaderPath(imageDir, k.Name))
		if err != nil {
			return false
		}
		f.Close()
	}
	return true
}
