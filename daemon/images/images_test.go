package images

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// fixture is a local release server (127.0.0.1 only): Fedora CoreOS stream
// JSON, a Flatcar release listing, and small fake artifacts.
type fixture struct {
	t     *testing.T
	srv   *httptest.Server
	files map[string][]byte // path → content
	mu    sync.Mutex
	hits  map[string]int // path → GET count
	// per-path misbehaviour
	corrupt  map[string]bool // serve other bytes
	truncate map[string]bool // serve half, with a Content-Length saying half
	drop     map[string]int  // drop the connection halfway this many times
}

func sum256(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
func sum512(b []byte) string { s := sha512.Sum512(b); return hex.EncodeToString(s[:]) }

func blob(name string, n int) []byte {
	return bytes.Repeat([]byte(name+"\n"), n/(len(name)+1)+1)[:n]
}

const fcosVer = "41.20241109.3.0"

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t, files: map[string][]byte{}, hits: map[string]int{},
		corrupt: map[string]bool{}, truncate: map[string]bool{}, drop: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)

	// Fedora CoreOS: artifact URLs point at the real host; the mirror
	// setting must rewrite them to the fixture (nothing leaves loopback).
	dir := "/prod/streams/stable/builds/" + fcosVer + "/x86_64/"
	kernel, initramfs, rootfs := blob("kernel", 300000), blob("initramfs", 200000), blob("rootfs", 500000)
	f.files[dir+"fedora-coreos-"+fcosVer+"-live-kernel-x86_64"] = kernel
	f.files[dir+"fedora-coreos-"+fcosVer+"-live-initramfs.x86_64.img"] = initramfs
	f.files[dir+"fedora-coreos-"+fcosVer+"-live-rootfs.x86_64.img"] = rootfs
	art := func(name string, b []byte) string {
		return fmt.Sprintf(`{"location": %q, "signature": %q, "sha256": %q}`,
			FCOSBase+dir+name, FCOSBase+dir+name+".sig", sum256(b))
	}
	f.files["/streams/stable.json"] = []byte(`{
  "stream": "stable",
  "metadata": {"last-modified": "2024-11-25T18:00:00Z"},
  "architectures": {"x86_64": {"artifacts": {"metal": {"release": "` + fcosVer + `", "formats": {
    "pxe": {
      "kernel": ` + art("fedora-coreos-"+fcosVer+"-live-kernel-x86_64", kernel) + `,
      "initramfs": ` + art("fedora-coreos-"+fcosVer+"-live-initramfs.x86_64.img", initramfs) + `,
      "rootfs": ` + art("fedora-coreos-"+fcosVer+"-live-rootfs.x86_64.img", rootfs) + `
    },
    "raw.xz": {"disk": {"location": "https://builds.coreos.fedoraproject.org/x.raw.xz", "sha256": "00"}}
  }}}}}
}`)

	// Flatcar: version.txt in current/ and the release's directory, and a
	// DIGESTS file per artifact (MD5, SHA1 and SHA512 sections as Flatcar
	// publishes them).
	fdir := "/stable/amd64-usr/3975.2.0/"
	vt := []byte("FLATCAR_BUILD=3975\nFLATCAR_BRANCH=2\nFLATCAR_PATCH=0\nFLATCAR_VERSION=3975.2.0\nFLATCAR_VERSION_ID=3975.2.0\n")
	f.files["/stable/amd64-usr/current/version.txt"] = vt
	f.files[fdir+"version.txt"] = vt
	for _, n := range []string{"flatcar_production_pxe.vmlinuz", "flatcar_production_pxe_image.cpio.gz"} {
		b := blob(n, 250000)
		f.files[fdir+n] = b
		f.files[fdir+n+".DIGESTS"] = []byte("# MD5 HASH\n0123456789abcdef0123456789abcdef  " + n + "\n# SHA1 HASH\n0123456789abcdef0123456789abcdef01234567  " + n + "\n# SHA512 HASH\n" + sum512(b) + "  " + n + "\n")
	}
	return f
}

func (f *fixture) serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	f.mu.Lock()
	f.hits[p]++
	drop := f.drop[p] > 0
	if drop && r.Header.Get("Range") == "" {
		f.drop[p]--
	} else {
		drop = false
	}
	f.mu.Unlock()
	b, ok := f.files[p]
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch {
	case f.corrupt[p]:
		c := bytes.Clone(b)
		c[len(c)/2] ^= 0xff
		b = c
	case f.truncate[p]:
		b = b[:len(b)/2]
	case drop:
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		w.WriteHeader(200)
		w.Write(b[:len(b)/2])
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
}

func (f *fixture) hitsFor(suffix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for p, c := range f.hits {
		if strings.HasSuffix(p, suffix) {
			n += c
		}
	}
	return n
}

func (f *fixture) puller(log *bytes.Buffer) *Puller {
	return &Puller{HTTP: f.srv.Client(), Log: log, Progress: NewProgress(log, false), RetryDelay: time.Millisecond}
}

func TestPullFedoraCoreOS(t *testing.T) {
	f := newFixture(t)
	assets := t.TempDir()
	var log bytes.Buffer
	p := f.puller(&log)
	req := Request{OS: "fedora-coreos", Stream: "stable", Arch: "x86_64", Mirror: f.srv.URL}
	res, err := p.Pull(context.Background(), assets, req)
	if err != nil {
		t.Fatalf("pull: %v\n%s", err, log.String())
	}
	dir := "fedora-coreos/stable/x86_64/" + fcosVer
	if res.Image.Kernel != dir+"/fedora-coreos-"+fcosVer+"-live-kernel-x86_64" ||
		len(res.Image.Initramfs) != 1 || res.Image.Initramfs[0] != dir+"/fedora-coreos-"+fcosVer+"-live-initramfs.x86_64.img" ||
		res.Image.Rootfs != dir+"/fedora-coreos-"+fcosVer+"-live-rootfs.x86_64.img" || len(res.Downloaded) != 3 {
		t.Fatalf("result: %+v", res)
	}
	for _, rel := range []string{res.Image.Kernel, res.Image.Initramfs[0], res.Image.Rootfs} {
		b, err := os.ReadFile(filepath.Join(assets, rel))
		if err != nil || !bytes.Equal(b, f.files["/prod/streams/stable/builds/"+fcosVer+"/x86_64/"+filepath.Base(rel)]) {
			t.Errorf("%s: wrong content (%v)", rel, err)
		}
	}
	if !strings.Contains(log.String(), "signature not checked") {
		t.Errorf("log should say the signature was not checked without a keyring:\n%s", log.String())
	}

	// Second run: nothing downloaded.
	before := f.hitsFor("x86_64")
	log.Reset()
	res, err = p.Pull(context.Background(), assets, req)
	if err != nil || len(res.Downloaded) != 0 || len(res.Present) != 3 {
		t.Fatalf("second pull: %v %+v", err, res)
	}
	if got := f.hitsFor("x86_64"); got != before {
		t.Errorf("second pull fetched %d artifact(s) again", got-before)
	}

	imgs, err := List(assets)
	if err != nil || len(imgs) != 1 || imgs[0].Version != fcosVer || imgs[0].Dir != dir {
		t.Fatalf("list: %v %+v", err, imgs)
	}
	latest, err := Latest(assets, "fedora-coreos", "stable", "x86_64")
	if err != nil || latest.Rootfs != res.Image.Rootfs {
		t.Errorf("latest: %v %+v", err, latest)
	}
	if err := Remove(assets, "fedora-coreos/../.."); err == nil {
		t.Error("rm accepted a path outside the store")
	}
	if err := Remove(assets, dir); err != nil {
		t.Fatal(err)
	}
	if imgs, _ := List(assets); len(imgs) != 0 {
		t.Errorf("after rm: %+v", imgs)
	}
	if _, err := os.Stat(filepath.Join(assets, "fedora-coreos")); !os.IsNotExist(err) {
		t.Errorf("empty parents left behind: %v", err)
	}
}

func noFinal(t *testing.T, dir, name string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
		t.Errorf("%s exists under its final name after a failed download", name)
	}
}

func TestPullCorruptAndTruncatedRefused(t *testing.T) {
	for _, mode := range []string{"corrupt", "truncate"} {
		t.Run(mode, func(t *testing.T) {
			f := newFixture(t)
			name := "fedora-coreos-" + fcosVer + "-live-initramfs.x86_64.img"
			p := "/prod/streams/stable/builds/" + fcosVer + "/x86_64/" + name
			if mode == "corrupt" {
				f.corrupt[p] = true
			} else {
				f.truncate[p] = true
			}
			assets := t.TempDir()
			var log bytes.Buffer
			_, err := f.puller(&log).Pull(context.Background(), assets, Request{OS: "fedora-coreos", Mirror: f.srv.URL})
			if !errors.Is(err, ErrChecksum) {
				t.Fatalf("want a checksum error, got %v\n%s", err, log.String())
			}
			dir := filepath.Join(assets, "fedora-coreos/stable/x86_64", fcosVer)
			noFinal(t, dir, name)
			noFinal(t, dir, name+".part")
			noFinal(t, dir, ManifestName)
		})
	}
}

func TestPullResumesAfterDroppedConnection(t *testing.T) {
	f := newFixture(t)
	name := "fedora-coreos-" + fcosVer + "-live-rootfs.x86_64.img"
	p := "/prod/streams/stable/builds/" + fcosVer + "/x86_64/" + name
	f.drop[p] = 1
	assets := t.TempDir()
	var log bytes.Buffer
	res, err := f.puller(&log).Pull(context.Background(), assets, Request{OS: "fedora-coreos", Mirror: f.srv.URL})
	if err != nil {
		t.Fatalf("pull: %v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "resuming at 250000 bytes") {
		t.Errorf("no Range resume in the log:\n%s", log.String())
	}
	b, _ := os.ReadFile(filepath.Join(assets, res.Image.Rootfs))
	if !bytes.Equal(b, f.files[p]) {
		t.Error("resumed file differs")
	}
	if f.hitsFor(name) != 2 {
		t.Errorf("%d requests for %s, want 2 (dropped, then the rest)", f.hitsFor(name), name)
	}
}

// TestPullResumesPartFile: a .part file left by an interrupted run is
// continued, not restarted.
func TestPullResumesPartFile(t *testing.T) {
	f := newFixture(t)
	name := "fedora-coreos-" + fcosVer + "-live-kernel-x86_64"
	p := "/prod/streams/stable/builds/" + fcosVer + "/x86_64/" + name
	assets := t.TempDir()
	dir := filepath.Join(assets, "fedora-coreos/stable/x86_64", fcosVer)
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, name+".part"), f.files[p][:100000], 0o644)
	var log bytes.Buffer
	if _, err := f.puller(&log).Pull(context.Background(), assets, Request{OS: "fedora-coreos", Mirror: f.srv.URL}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), name+": resuming at 100000 bytes") {
		t.Errorf("log:\n%s", log.String())
	}
	noFinal(t, dir, name+".part")
}

func TestPullFlatcarWithSignatures(t *testing.T) {
	f := newFixture(t)
	signer, err := openpgp.NewEntity("Flatcar test key", "", "test@example.invalid", nil)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := openpgp.NewEntity("Someone else", "", "x@example.invalid", nil)
	sign := func(e *openpgp.Entity, path string, armored bool) {
		var sig bytes.Buffer
		if armored {
			openpgp.ArmoredDetachSign(&sig, e, bytes.NewReader(f.files[path]), nil)
		} else {
			openpgp.DetachSign(&sig, e, bytes.NewReader(f.files[path]), nil)
		}
		f.files[path+".sig"] = sig.Bytes()
	}
	fdir := "/stable/amd64-usr/3975.2.0/"
	sign(signer, fdir+"flatcar_production_pxe.vmlinuz", false)
	sign(signer, fdir+"flatcar_production_pxe_image.cpio.gz", true)

	// The keyring file a user passes with --keyring: the public key only.
	var pub bytes.Buffer
	signer.Serialize(&pub)
	keyring, err := ReadKeyring(bytes.NewReader(pub.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	assets := t.TempDir()
	var log bytes.Buffer
	p := f.puller(&log)
	p.Keyring = keyring
	res, err := p.Pull(context.Background(), assets, Request{OS: "flatcar", Stream: "stable", Version: "current", Mirror: f.srv.URL})
	if err != nil {
		t.Fatalf("pull: %v\n%s", err, log.String())
	}
	if res.Image.Version != "3975.2.0" || res.Image.Kernel != "flatcar/stable/amd64/3975.2.0/flatcar_production_pxe.vmlinuz" ||
		len(res.Image.Initramfs) != 1 || !res.Image.Files[0].Signed {
		t.Fatalf("result %+v", res)
	}
	if strings.Count(log.String(), "signature verified (Flatcar test key") != 2 {
		t.Errorf("log:\n%s", log.String())
	}

	// A signature by another key is refused; nothing lands under the name.
	sign(other, fdir+"flatcar_production_pxe.vmlinuz", false)
	assets2 := t.TempDir()
	_, err = p.Pull(context.Background(), assets2, Request{OS: "flatcar", Version: "3975.2.0", Mirror: f.srv.URL})
	if err == nil || !strings.Contains(err.Error(), "signature does not verify") {
		t.Fatalf("bad signature: %v", err)
	}
	noFinal(t, filepath.Join(assets2, "flatcar/stable/amd64/3975.2.0"), "flatcar_production_pxe.vmlinuz")

	// A version the listing does not have.
	if _, err := p.Pull(context.Background(), assets2, Request{OS: "flatcar", Version: "1.2.3", Mirror: f.srv.URL}); err == nil {
		t.Error("missing version accepted")
	}
}

func TestPullGeneric(t *testing.T) {
	f := newFixture(t)
	k, i := blob("vmlinuz", 10000), blob("initrd", 5000)
	f.files["/debian/vmlinuz"], f.files["/debian/initrd.img"] = k, i
	assets := t.TempDir()
	var log bytes.Buffer
	req := Request{OS: "generic", Name: "debian", Kernel: f.srv.URL + "/debian/vmlinuz", Initrds: []string{f.srv.URL + "/debian/initrd.img"},
		SHA256: map[string]string{f.srv.URL + "/debian/vmlinuz": sum256(k), f.srv.URL + "/debian/initrd.img": sum256(i)}}
	res, err := f.puller(&log).Pull(context.Background(), assets, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Image.Kernel != "generic/debian/vmlinuz" || res.Image.Initramfs[0] != "generic/debian/initrd.img" {
		t.Errorf("%+v", res.Image)
	}
	delete(req.SHA256, f.srv.URL+"/debian/initrd.img")
	if _, err := f.puller(&log).Pull(context.Background(), assets, req); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Errorf("generic file without a checksum: %v", err)
	}
}
