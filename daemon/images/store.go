package images

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ManifestName is the file each pulled image's directory holds.
const ManifestName = "pixie-image.json"

// Image is one pulled image: what it is and where its files are, as paths
// inside the asset store (what profiles reference).
type Image struct {
	OS        string    `json:"os"`
	Stream    string    `json:"stream,omitempty"` // FCOS stream or Flatcar channel
	Arch      string    `json:"arch,omitempty"`
	Version   string    `json:"version"`
	Dir       string    `json:"dir"` // inside the asset store
	Kernel    string    `json:"kernel"`
	Initramfs []string  `json:"initramfs"`
	Rootfs    string    `json:"rootfs,omitempty"`
	Files     []File    `json:"files"`
	PulledAt  time.Time `json:"pulled_at"`
}

// File is one verified file of an image.
type File struct {
	Name   string `json:"name"`
	Role   string `json:"role"`
	URL    string `json:"url"`
	SHA256 string `json:"sha256,omitempty"`
	SHA512 string `json:"sha512,omitempty"`
	Size   int64  `json:"size"`
	Signed bool   `json:"signature_verified"`
}

// ID names an image for `pixie images rm`: its directory in the store.
func (i Image) ID() string { return i.Dir }

func (i *Image) setRole(role, p string) {
	switch role {
	case "kernel":
		i.Kernel = p
	case "initramfs":
		i.Initramfs = append(i.Initramfs, p)
	case "rootfs":
		i.Rootfs = p
	}
}

// Result says what a pull did.
type Result struct {
	Image      Image
	Downloaded []string // files fetched this time
	Present    []string // files already there and verified
}

// Pull resolves r, downloads what is missing into assetsDir and writes the
// image's manifest. Running it again downloads nothing.
func (p *Puller) Pull(ctx context.Context, assetsDir string, r Request) (Result, error) {
	plan, err := p.Resolve(ctx, r)
	if err != nil {
		return Result{}, err
	}
	res := Result{Image: plan.Image}
	dir := filepath.Join(assetsDir, filepath.FromSlash(plan.Image.Dir))
	for _, a := range plan.Artifacts {
		got, err := p.Fetch(ctx, dir, a)
		if err != nil {
			return res, err
		}
		fi, err := os.Stat(filepath.Join(dir, a.Name))
		if err != nil {
			return res, err
		}
		res.Image.Files = append(res.Image.Files, File{Name: a.Name, Role: a.Role, URL: a.URL, SHA256: a.SHA256, SHA512: a.SHA512,
			Size: fi.Size(), Signed: a.SigURL != "" && (p.Keyring != nil || p.DistributionKeys && a.Keys != "")})
		if got {
			res.Downloaded = append(res.Downloaded, a.Name)
		} else {
			res.Present = append(res.Present, a.Name)
		}
	}
	res.Image.PulledAt = time.Now().UTC()
	if old, err := readManifest(filepath.Join(dir, ManifestName)); err == nil && len(res.Downloaded) == 0 {
		res.Image.PulledAt = old.PulledAt // nothing changed
	}
	b, _ := json.MarshalIndent(res.Image, "", "  ")
	if err := writeAtomic(filepath.Join(dir, ManifestName), append(b, '\n')); err != nil {
		return res, err
	}
	return res, nil
}

func writeAtomic(name string, b []byte) error {
	tmp := name + ".part"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

// ReadManifest reads the manifest of the image at dir inside the asset
// store (the folder `pixie images pull` wrote).
func ReadManifest(assetsDir, dir string) (Image, error) {
	return readManifest(filepath.Join(assetsDir, filepath.FromSlash(dir), ManifestName))
}

func readManifest(name string) (Image, error) {
	var img Image
	b, err := os.ReadFile(name)
	if err != nil {
		return img, err
	}
	err = json.Unmarshal(b, &img)
	return img, err
}

// List returns every pulled image in the asset store, newest first within
// each OS and stream.
func List(assetsDir string) ([]Image, error) {
	var out []Image
	err := filepath.WalkDir(assetsDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == assetsDir {
				return err
			}
			return nil
		}
		if d.IsDir() || d.Name() != ManifestName {
			return nil
		}
		img, err := readManifest(p)
		if err != nil {
			return nil // not ours or damaged: not listed
		}
		rel, _ := filepath.Rel(assetsDir, filepath.Dir(p))
		img.Dir = filepath.ToSlash(rel)
		out = append(out, img)
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.OS+a.Stream+a.Arch != b.OS+b.Stream+b.Arch {
			return a.OS+a.Stream+a.Arch < b.OS+b.Stream+b.Arch
		}
		return a.PulledAt.After(b.PulledAt)
	})
	return out, err
}

// Latest returns the most recently pulled image of an OS (and stream and
// arch when given).
func Latest(assetsDir, osName, stream, arch string) (Image, error) {
	imgs, err := List(assetsDir)
	if err != nil {
		return Image{}, err
	}
	var best *Image
	for i := range imgs {
		im := &imgs[i]
		if im.OS != osName || stream != "" && im.Stream != stream || arch != "" && im.Arch != arch && !sameArch(im.Arch, arch) {
			continue
		}
		if best == nil || im.PulledAt.After(best.PulledAt) {
			best = im
		}
	}
	if best == nil {
		return Image{}, &NotPulledError{OS: osName, Stream: stream, Arch: arch, Pulled: imgs}
	}
	return *best, nil
}

// NotPulledError says that no pulled image matches, and which command
// pulls one.
type NotPulledError struct {
	OS, Stream, Arch string
	Pulled           []Image // what the store holds
}

func (e *NotPulledError) Error() string {
	what := strings.Join(strings.Fields(strings.Join([]string{e.OS, e.Stream, e.Arch}, " ")), " ")
	msg := fmt.Sprintf("no %s image has been pulled: run `%s`", what, e.PullCommand())
	var have []string
	for _, im := range e.Pulled {
		if im.OS == e.OS {
			have = append(have, strings.Join(strings.Fields(im.Stream+" "+im.Arch+" "+im.Version), " "))
		}
	}
	if len(have) > 0 {
		msg += fmt.Sprintf(" (pulled %s images: %s)", e.OS, strings.Join(have, ", "))
	}
	return msg
}

// PullCommand is the `pixie images pull` command that fetches the image.
func (e *NotPulledError) PullCommand() string {
	return PullCommand(e.OS, e.Stream, e.Arch)
}

// PullCommand spells the `pixie images pull` command for an OS, stream (a
// Flatcar channel) and architecture; the defaults (stable, x86_64) are
// left out.
func PullCommand(osName, stream, arch string) string {
	cmd := "pixie images pull " + osName
	if stream != "" && stream != "stable" {
		if osName == "flatcar" {
			cmd += " --channel " + stream
		} else {
			cmd += " --stream " + stream
		}
	}
	if arch != "" && !sameArch(arch, "x86_64") {
		cmd += " --arch " + arch
	}
	return cmd
}

func sameArch(a, b string) bool {
	norm := func(s string) string {
		switch s {
		case "amd64", "x86_64":
			return "x86_64"
		case "arm64", "aarch64":
			return "aarch64"
		}
		return s
	}
	return norm(a) == norm(b)
}

// Remove deletes one pulled image (its directory, named by ID) from the
// store. It refuses anything that is not an image directory pixie wrote.
func Remove(assetsDir, id string) error {
	id = strings.Trim(id, "/")
	if !fs.ValidPath(id) || id == "." || strings.Count(id, "/") < 1 {
		return fmt.Errorf("%q is not an image (see `pixie images list`)", id)
	}
	root, err := os.OpenRoot(assetsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%q is not an image: %s holds no pulled images yet (see `pixie images list`)", id, assetsDir)
	}
	if err != nil {
		return err
	}
	defer root.Close()
	if _, err := root.Stat(path.Join(id, ManifestName)); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%q is not an image (see `pixie images list`)", id)
	}
	if err := root.RemoveAll(id); err != nil {
		return err
	}
	// Remove now-empty parents (fedora-coreos/stable/x86_64...).
	for d := path.Dir(id); d != "." && d != "/"; d = path.Dir(d) {
		if root.Remove(d) != nil {
			break
		}
	}
	return nil
}
