package control

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/importer"
)

// assetSHA hashes the asset store's file at p (a path inside dir); ok is
// false when there is no such regular file.
func assetSHA(dir, p string) (string, bool) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", false
	}
	defer root.Close()
	f, err := root.Open(p)
	if err != nil {
		return "", false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return "", false
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", false
	}
	return hex.EncodeToString(h.Sum(nil)), true
}

// importStage holds one import's asset files: staged under a directory of
// the asset store (so moving them in is a rename), then moved into place.
type importStage struct {
	assets  string
	dir     string
	want    map[string]*api.ImportAssetPlan // tree path → asset, for copies
	staged  map[string]string               // tree path → staged file
	order   []*api.ImportAssetPlan
	moved   []string          // destinations written
	backups map[string]string // destination → the file it replaced, set aside
}

// stageImport makes the staging directory and hard-links the assets the
// plan links.
func (s *Server) stageImport(in api.ImportRequest, plan importer.Plan) (*importStage, error) {
	st := &importStage{assets: s.assetsDir(), want: map[string]*api.ImportAssetPlan{}, staged: map[string]string{}, backups: map[string]string{}}
	var links []*api.ImportAssetPlan
	for i := range plan.Assets {
		a := &plan.Assets[i]
		switch a.Action {
		case api.AssetCopy:
			st.want[a.From] = a
		case api.AssetLink:
			links = append(links, a)
		default:
			continue
		}
		st.order = append(st.order, a)
	}
	if len(st.order) == 0 {
		return st, nil
	}
	if err := os.MkdirAll(st.assets, 0o755); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(st.assets, ".import-")
	if err != nil {
		return nil, err
	}
	st.dir = dir
	for i, a := range links {
		if err := st.link(in.Root, a, i); err != nil {
			st.cleanup()
			return nil, err
		}
	}
	return st, nil
}

// link hard-links the tree's file into the staging directory, once its
// content is the one the client hashed: the client read it with its own
// permissions, so pixie serves only bytes the caller could read.
func (st *importStage) link(root string, a *api.ImportAssetPlan, i int) error {
	if !filepath.IsAbs(root) || !fs.ValidPath(a.From) {
		return importErrorf("--link: the tree's path %q is not absolute, or the asset path %q leaves it", root, a.From)
	}
	if a.SHA256 == "" {
		return importErrorf("--link: the client sent no SHA-256 for %s", a.From)
	}
	src := filepath.Join(root, filepath.FromSlash(a.From))
	// One answer for a missing file, a link and other content, so a
	// caller learns nothing about files it could not read itself.
	fi, err := os.Lstat(src)
	var sum string
	if err == nil && fi.Mode().IsRegular() {
		sum, err = fileSHA(src)
	}
	if err != nil || !fi.Mode().IsRegular() || sum != a.SHA256 {
		return importErrorf("--link: %s is not, for the daemon, the regular file you read (it is gone, a symbolic link, or changed since): run the import again, or leave --link out to copy it", src)
	}
	dst := filepath.Join(st.dir, strconv.Itoa(len(st.want)+i))
	if err := os.Link(src, dst); err != nil {
		if errors.Is(err, syscall.EXDEV) {
			return importErrorf("--link: %s is on another file system than pixie's asset store (%s), and hard links cannot cross file systems: leave --link out to copy the files", src, st.assets)
		}
		return importErrorf("--link: could not link %s into pixie's asset store (%v): leave --link out to copy it", src, err)
	}
	st.staged[a.From] = dst
	return nil
}

func fileSHA(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// receive stores each asset part in the staging directory, checking its
// size and SHA-256 against the request's.
func (st *importStage) receive(mr *multipart.Reader) error {
	n := 0
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return importErrorf("the import body broke off: %v", err)
		}
		// The tree path whole: Part.FileName keeps only its base name.
		_, params, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
		name := params["filename"]
		a := st.want[name]
		if part.FormName() != "asset" || a == nil {
			return importErrorf("the import body holds %q, which the plan does not copy (did pixie's profiles or assets change since the plan was made?): run the import again", name)
		}
		if _, dup := st.staged[name]; dup {
			return importErrorf("the import body holds %s twice", name)
		}
		dst := filepath.Join(st.dir, strconv.Itoa(n))
		n++
		if err := receiveOne(part, dst, a); err != nil {
			return err
		}
		st.staged[name] = dst
	}
	for from := range st.want {
		if _, ok := st.staged[from]; !ok {
			return importErrorf("the import body lacks %s, which the plan copies (did pixie's profiles or assets change since the plan was made?): run the import again", from)
		}
	}
	return nil
}

func receiveOne(r io.Reader, dst string, a *api.ImportAssetPlan) error {
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	h := sha256.New()
	got, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, a.Size+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return err // the store's disk-full answer
		}
		return importErrorf("receiving %s: %v", a.From, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	switch {
	case got != a.Size:
		return importErrorf("%s: received %d bytes, the request said %d (did the file change while it was imported? run the import again)", a.From, got, a.Size)
	case a.SHA256 != "" && sum != a.SHA256:
		return importErrorf("%s: its SHA-256 is not the one the request named (did the file change while it was imported? run the import again)", a.From)
	}
	a.SHA256 = sum
	return nil
}

// moveIn renames the staged files into place (the store calls it just
// before its transaction commits). A file it replaces is set aside, so
// undo can put it back.
func (st *importStage) moveIn() error {
	for i, a := range st.order {
		src := st.staged[a.From]
		dst := filepath.Join(st.assets, filepath.FromSlash(a.To))
		if !fs.ValidPath(a.To) || path.Clean(a.To) != a.To {
			return importErrorf("asset path %q leaves the asset store", a.To)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if fi, err := os.Lstat(dst); err == nil {
			if !fi.Mode().IsRegular() {
				return importErrorf("the asset store's %s is not a regular file: remove it and import again", a.To)
			}
			bak := filepath.Join(st.dir, fmt.Sprintf("old-%d", i))
			if err := os.Rename(dst, bak); err != nil {
				return err
			}
			st.backups[dst] = bak
		}
		if err := os.Rename(src, dst); err != nil {
			return err
		}
		st.moved = append(st.moved, dst)
	}
	return nil
}

// undo takes back what moveIn did, after a failed commit.
func (st *importStage) undo() {
	for _, dst := range st.moved {
		os.Remove(dst)
		if bak, ok := st.backups[dst]; ok {
			os.Rename(bak, dst)
		}
	}
	st.moved = nil
}

func (st *importStage) cleanup() {
	if st.dir != "" {
		os.RemoveAll(st.dir)
		st.dir = ""
	}
}
