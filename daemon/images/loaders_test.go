package images

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/klauspost/compress/zstd"

	"github.com/pixie-boot/pixie/daemon/rpm/rpmtest"
)

// A fixture Fedora repository: what dl.fedoraproject.org serves under
// releases/N/Everything/ARCH/os/ and updates/N/Everything/ARCH/, built here
// (there is no internet): signed test packages, primary metadata listing
// them with decoys, and repomd.xml naming the primary file's checksum.

type fixturePkg struct {
	name, arch, epoch, ver, rel string
	files                       map[string][]byte
	signer                      *openpgp.Entity
}

func (p fixturePkg) build(t *testing.T) []byte {
	t.Helper()
	ep := 0
	fmt.Sscan(p.epoch, &ep)
	b, err := rpmtest.Build(rpmtest.Spec{Name: p.name, Arch: p.arch, Epoch: ep, Version: p.ver, Release: p.rel,
		Files: p.files, Compressor: "zstd", Signer: p.signer})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// addRepo serves a repository at dir (e.g. /fedora/releases/43/Everything/x86_64/os/)
// with the packages, its primary metadata compressed as comp (gz or zst).
func addRepo(t *testing.T, f *fixture, dir, comp string, pkgs ...fixturePkg) {
	t.Helper()
	var primary strings.Builder
	primary.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="` + fmt.Sprint(len(pkgs)+1) + `">
<package type="rpm"><name>shim-unsigned-x64</name><arch>x86_64</arch><version epoch="0" ver="99" rel="1.fc43"/><checksum type="sha256" pkgid="YES">00</checksum><location href="Packages/s/decoy.rpm"/></package>
`)
	for _, p := range pkgs {
		b := p.build(t)
		href := fmt.Sprintf("Packages/%c/%s-%s-%s.%s.rpm", p.name[0], p.name, p.ver, p.rel, p.arch)
		f.files[dir+href] = b
		fmt.Fprintf(&primary, `<package type="rpm"><name>%s</name><arch>%s</arch><version epoch="%s" ver="%s" rel="%s"/><checksum type="sha256" pkgid="YES">%s</checksum><summary>test &amp; fixture</summary><location href="%s"/><format><rpm:license>BSD</rpm:license></format></package>
`, p.name, p.arch, p.epoch, p.ver, p.rel, sum256(b), href)
	}
	primary.WriteString("</metadata>\n")
	var z bytes.Buffer
	switch comp {
	case "gz":
		w := gzip.NewWriter(&z)
		w.Write([]byte(primary.String()))
		w.Close()
	case "zst":
		w, _ := zstd.NewWriter(&z)
		w.Write([]byte(primary.String()))
		w.Close()
	}
	name := "repodata/" + sum256(z.Bytes())[:16] + "-primary.xml." + comp
	f.files[dir+name] = z.Bytes()
	f.files[dir+"repodata/repomd.xml"] = []byte(`<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>1733000000</revision>
  <data type="filelists"><checksum type="sha256">` + sum256([]byte("x")) + `</checksum><location href="repodata/x-filelists.xml.zst"/></data>
  <data type="primary"><checksum type="sha256">` + sum256(z.Bytes()) + `</checksum><open-checksum type="sha256">` + sum256([]byte(primary.String())) + `</open-checksum><location href="` + name + `"/><size>` + fmt.Sprint(z.Len()) + `</size></data>
</repomd>
`)
}

const (
	relRepo = "/fedora/releases/43/Everything/x86_64/os/"
	updRepo = "/fedora/updates/43/Everything/x86_64/"
)

func fedoraImage() Image {
	return Image{OS: "fedora-coreos", Stream: "stable", Arch: "x86_64", Version: "43.20251110.3.1",
		Dir: "fedora-coreos/stable/x86_64/43.20251110.3.1"}
}

func testKey(t *testing.T, name string) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", "fedora-43-primary@example.test", nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func shimPkg(k *openpgp.Entity, rel string) fixturePkg {
	return fixturePkg{name: "shim-x64", arch: "x86_64", epoch: "0", ver: "15.8", rel: rel, signer: k,
		files: map[string][]byte{"/boot/efi/EFI/fedora/shimx64.efi": []byte("fedora shim " + rel), "/boot/efi/EFI/BOOT/BOOTX64.EFI": []byte("fallback")}}
}

func grubPkg(k *openpgp.Entity, ver, rel string) fixturePkg {
	return fixturePkg{name: "grub2-efi-x64", arch: "x86_64", epoch: "1", ver: ver, rel: rel, signer: k,
		files: map[string][]byte{"/boot/efi/EFI/fedora/grubx64.efi": []byte("fedora grub " + ver + "-" + rel)}}
}

func loaderPuller(f *fixture, log *bytes.Buffer, trusted ...*openpgp.Entity) *Puller {
	p := f.puller(log)
	p.DistributionKeys = true
	p.distKeyring = func(osName string) (openpgp.EntityList, error) {
		if osName != "fedora-coreos" {
			return nil, fmt.Errorf("asked for %s keys", osName)
		}
		return openpgp.EntityList(trusted), nil
	}
	return p
}

func TestPullLoadersNewestAcrossRepos(t *testing.T) {
	f := newFixture(t)
	k := testKey(t, "Fedora 43")
	addRepo(t, f, relRepo, "zst", shimPkg(k, "3"), grubPkg(k, "2.12", "30.fc43"),
		fixturePkg{name: "grub2-efi-x64", arch: "i686", epoch: "1", ver: "9.99", rel: "1", signer: k, files: map[string][]byte{"/x": nil}})
	// updates has a newer GRUB (2.12-40 > 2.12-30) and an older-looking
	// shim release that rpmvercmp must still order right (10 > 3).
	addRepo(t, f, updRepo, "gz", grubPkg(k, "2.12", "40.fc43"), shimPkg(k, "10"))
	assets := t.TempDir()
	var log bytes.Buffer
	p := loaderPuller(f, &log, k)
	res, err := p.PullLoaders(context.Background(), assets, fedoraImage(), f.srv.URL+"/fedora")
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if !res.Downloaded || res.Set.Release != "43" || len(res.Set.Files) != 2 {
		t.Fatalf("result %+v", res)
	}
	dir := filepath.Join(assets, "fedora-coreos/stable/x86_64/43.20251110.3.1/loaders")
	for name, want := range map[string]string{"shimx64.efi": "fedora shim 10", "grubx64.efi": "fedora grub 2.12-40.fc43"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q (%v), want %q", name, got, err, want)
		}
	}
	if res.Set.Files[1].Package != "grub2-efi-x64-1:2.12-40.fc43.x86_64" || !strings.Contains(res.Set.Files[1].Signer, "Fedora 43") {
		t.Errorf("grub record %+v", res.Set.Files[1])
	}
	if _, err := os.Stat(filepath.Join(dir, ".download")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the download folder was left behind: %v", err)
	}
	if !strings.Contains(log.String(), "header signature verified") {
		t.Errorf("log does not say the signatures were verified:\n%s", log.String())
	}
	set, err := ReadLoaderSet(assets, fedoraImage().Dir)
	if err != nil || len(set.Files) != 2 {
		t.Fatalf("ReadLoaderSet: %+v %v", set, err)
	}

	// Again: nothing is downloaded, not even the metadata.
	before := f.hitsFor(".rpm") + f.hitsFor("repomd.xml")
	res, err = p.PullLoaders(context.Background(), assets, fedoraImage(), f.srv.URL+"/fedora")
	if err != nil || res.Downloaded {
		t.Fatalf("second pull: %+v %v", res, err)
	}
	if after := f.hitsFor(".rpm") + f.hitsFor("repomd.xml"); after != before {
		t.Errorf("second pull made %d requests", after-before)
	}
	// A loader changed on disk is noticed, and the next pull repairs it.
	os.WriteFile(filepath.Join(dir, "grubx64.efi"), []byte("tampered"), 0o644)
	if _, err := ReadLoaderSet(assets, fedoraImage().Dir); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("tampered set: %v", err)
	}
	if res, err = p.PullLoaders(context.Background(), assets, fedoraImage(), f.srv.URL+"/fedora"); err != nil || !res.Downloaded {
		t.Fatalf("repair: %+v %v", res, err)
	}
}

func TestPullLoadersNoUpdatesRepo(t *testing.T) {
	f := newFixture(t)
	k := testKey(t, "Fedora 43")
	addRepo(t, f, relRepo, "zst", shimPkg(k, "3"), grubPkg(k, "2.12", "30.fc43"))
	var log bytes.Buffer
	res, err := loaderPuller(f, &log, k).PullLoaders(context.Background(), t.TempDir(), fedoraImage(), f.srv.URL+"/fedora")
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if res.Set.Files[0].Package != "shim-x64-15.8-3.x86_64" {
		t.Fatalf("%+v", res.Set.Files)
	}
	if !strings.Contains(log.String(), "no updates repository") {
		t.Errorf("log:\n%s", log.String())
	}
}

func TestPullLoadersRefused(t *testing.T) {
	k, stranger := testKey(t, "Fedora 43"), testKey(t, "Mallory")
	type setup func(t *testing.T, f *fixture)
	for _, tc := range []struct {
		name  string
		setup setup
		keys  []*openpgp.Entity
		noSig bool
		want  string
		is    error
	}{
		{name: "signed by another key", keys: []*openpgp.Entity{k},
			setup: func(t *testing.T, f *fixture) {
				addRepo(t, f, relRepo, "zst", shimPkg(stranger, "3"), grubPkg(k, "2.12", "30.fc43"))
			}, want: "not among the trusted"},
		{name: "unsigned", keys: []*openpgp.Entity{k},
			setup: func(t *testing.T, f *fixture) {
				addRepo(t, f, relRepo, "zst", shimPkg(nil, "3"), grubPkg(k, "2.12", "30.fc43"))
			}, want: "not signed"},
		{name: "package altered on the server", keys: []*openpgp.Entity{k},
			setup: func(t *testing.T, f *fixture) {
				addRepo(t, f, relRepo, "zst", shimPkg(k, "3"), grubPkg(k, "2.12", "30.fc43"))
				f.corrupt[relRepo+"Packages/s/shim-x64-15.8-3.x86_64.rpm"] = true
			}, is: ErrChecksum},
		{name: "primary metadata altered", keys: []*openpgp.Entity{k},
			setup: func(t *testing.T, f *fixture) {
				addRepo(t, f, relRepo, "zst", shimPkg(k, "3"), grubPkg(k, "2.12", "30.fc43"))
				for p := range f.files {
					if strings.HasSuffix(p, "-primary.xml.zst") {
						f.corrupt[p] = true
					}
				}
			}, is: ErrChecksum},
		{name: "no grub package", keys: []*openpgp.Entity{k},
			setup: func(t *testing.T, f *fixture) {
				addRepo(t, f, relRepo, "zst", shimPkg(k, "3"))
			}, want: "no grub2-efi-x64 package for x86_64"},
		{name: "no repository at all", keys: []*openpgp.Entity{k},
			setup: func(t *testing.T, f *fixture) {}, want: "--fedora-mirror"},
		{name: "not repository metadata", keys: []*openpgp.Entity{k},
			setup: func(t *testing.T, f *fixture) {
				f.files[updRepo+"repodata/repomd.xml"] = []byte("<html>a captive portal")
			}, want: "not repository metadata"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tc.setup(t, f)
			assets := t.TempDir()
			var log bytes.Buffer
			_, err := loaderPuller(f, &log, tc.keys...).PullLoaders(context.Background(), assets, fedoraImage(), f.srv.URL+"/fedora")
			if err == nil {
				t.Fatalf("pulled\n%s", log.String())
			}
			if tc.want != "" && !strings.Contains(err.Error(), tc.want) || tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("error %q, want %q / %v", err, tc.want, tc.is)
			}
			if _, err := ReadLoaderSet(assets, fedoraImage().Dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a loader set was recorded after a refused pull: %v", err)
			}
			if _, err := os.Stat(filepath.Join(assets, fedoraImage().Dir, LoaderDir, "shimx64.efi")); err == nil {
				t.Errorf("shimx64.efi was written by a refused pull")
			}
		})
	}
}

func TestPullLoadersWithoutSignatures(t *testing.T) {
	f := newFixture(t)
	k := testKey(t, "Fedora 43")
	addRepo(t, f, relRepo, "zst", shimPkg(nil, "3"), grubPkg(k, "2.12", "30.fc43"))
	var log bytes.Buffer
	p := f.puller(&log) // --no-signature: the repository checksums only
	res, err := p.PullLoaders(context.Background(), t.TempDir(), fedoraImage(), f.srv.URL+"/fedora")
	if err != nil {
		t.Fatal(err)
	}
	if res.Set.Files[0].Signer != "" || !strings.Contains(log.String(), "signature not checked") {
		t.Fatalf("%+v\n%s", res.Set.Files[0], log.String())
	}
}

func TestFedoraRelease(t *testing.T) {
	for v, want := range map[string]string{"43.20251110.3.1": "43", "44.20260301.1.0": "44", "": "", "rawhide.1": "", "7.1": ""} {
		got, err := FedoraRelease(v)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("FedoraRelease(%q) = %q, %v", v, got, err)
		}
	}
	if _, err := (&Puller{}).PullLoaders(context.Background(), t.TempDir(), Image{OS: "flatcar", Version: "4081.2.0"}, ""); err == nil {
		t.Error("a Flatcar image got a Fedora loader set")
	}
	img := fedoraImage()
	img.Arch = "ppc64le"
	if _, err := (&Puller{}).PullLoaders(context.Background(), t.TempDir(), img, ""); err == nil || !strings.Contains(err.Error(), "x86_64 and aarch64") {
		t.Errorf("ppc64le: %v", err)
	}
}

func TestPullLoadersAarch64(t *testing.T) {
	f := newFixture(t)
	k := testKey(t, "Fedora 43")
	repo := "/fedora/releases/43/Everything/aarch64/os/"
	addRepo(t, f, repo, "zst",
		fixturePkg{name: "shim-aa64", arch: "aarch64", epoch: "0", ver: "15.8", rel: "3", signer: k,
			files: map[string][]byte{"/boot/efi/EFI/fedora/shimaa64.efi": []byte("aa64 shim")}},
		fixturePkg{name: "grub2-efi-aa64", arch: "aarch64", epoch: "1", ver: "2.12", rel: "40.fc43", signer: k,
			files: map[string][]byte{"/boot/efi/EFI/fedora/grubaa64.efi": []byte("aa64 grub")}},
		// The x86_64 names in an aarch64 repository are not what an
		// aarch64 image needs.
		shimPkg(k, "99"))
	img := fedoraImage()
	img.Arch, img.Dir = "aarch64", "fedora-coreos/stable/aarch64/43.20251110.3.1"
	assets := t.TempDir()
	var log bytes.Buffer
	res, err := loaderPuller(f, &log, k).PullLoaders(context.Background(), assets, img, f.srv.URL+"/fedora")
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if len(res.Set.Files) != 2 || res.Set.Files[0].Name != "shimaa64.efi" || res.Set.Files[1].Name != "grubaa64.efi" {
		t.Fatalf("%+v", res.Set.Files)
	}
	for name, want := range map[string]string{"shimaa64.efi": "aa64 shim", "grubaa64.efi": "aa64 grub"} {
		if b, err := os.ReadFile(filepath.Join(assets, img.Dir, LoaderDir, name)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v", name, b, err)
		}
	}
}
