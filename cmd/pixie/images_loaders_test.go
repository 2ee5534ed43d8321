package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"github.com/pixie-boot/pixie/daemon/images"
	"github.com/pixie-boot/pixie/daemon/rpm/rpmtest"
)

func hexSum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// `pixie images pull fedora-coreos` against local mirrors of the stream
// metadata and of Fedora's repository (nothing leaves loopback): the image
// and Fedora's shim and GRUB arrive, checked with a --keyring of the test
// key that signed both, with progress lines; a second pull downloads
// nothing; --no-loaders pulls the image alone.
func TestCLIImagesPullFedoraLoaders(t *testing.T) {
	clearProxyVars(t)
	key, err := openpgp.NewEntity("Fedora 43 test", "", "fedora-43@example.test", nil)
	if err != nil {
		t.Fatal(err)
	}
	var pub bytes.Buffer
	aw, _ := armor.Encode(&pub, openpgp.PublicKeyType, nil)
	key.Serialize(aw)
	aw.Close()
	keyring := filepath.Join(t.TempDir(), "fedora.asc")
	os.WriteFile(keyring, pub.Bytes(), 0o644)

	files := map[string][]byte{}
	const ver = "43.20251110.3.1"
	dir := "/prod/streams/stable/builds/" + ver + "/x86_64/"
	art := func(name, body string) string {
		files[dir+name] = []byte(body)
		var sig bytes.Buffer
		openpgp.ArmoredDetachSign(&sig, key, strings.NewReader(body), nil)
		files[dir+name+".sig"] = sig.Bytes()
		return fmt.Sprintf(`{"location": %q, "signature": %q, "sha256": %q}`, images.FCOSBase+dir+name, images.FCOSBase+dir+name+".sig", hexSum([]byte(body)))
	}
	files["/streams/stable.json"] = []byte(`{"stream": "stable", "metadata": {"last-modified": "2025-11-20T00:00:00Z"},
  "architectures": {"x86_64": {"artifacts": {"metal": {"release": "` + ver + `", "formats": {"pxe": {
    "kernel": ` + art("fedora-coreos-"+ver+"-live-kernel-x86_64", strings.Repeat("k", 70000)) + `,
    "initramfs": ` + art("fedora-coreos-"+ver+"-live-initramfs.x86_64.img", strings.Repeat("i", 50000)) + `,
    "rootfs": ` + art("fedora-coreos-"+ver+"-live-rootfs.x86_64.img", strings.Repeat("r", 90000)) + `}}}}}}}`)

	repo := "/releases/43/Everything/x86_64/os/"
	var primary strings.Builder
	primary.WriteString(`<?xml version="1.0" encoding="UTF-8"?><metadata xmlns="http://linux.duke.edu/metadata/common">`)
	for _, p := range []rpmtest.Spec{
		{Name: "shim-x64", Version: "15.8", Release: "3", Arch: "x86_64", Files: map[string][]byte{"/boot/efi/EFI/fedora/shimx64.efi": []byte("FEDORA SHIM")}},
		{Name: "grub2-efi-x64", Epoch: 1, Version: "2.12", Release: "40.fc43", Arch: "x86_64", Files: map[string][]byte{"/boot/efi/EFI/fedora/grubx64.efi": []byte("FEDORA GRUB")}},
	} {
		p.Signer, p.Compressor = key, "zstd"
		b, err := rpmtest.Build(p)
		if err != nil {
			t.Fatal(err)
		}
		href := "Packages/" + p.Name[:1] + "/" + p.Name + ".rpm"
		files[repo+href] = b
		fmt.Fprintf(&primary, `<package type="rpm"><name>%s</name><arch>x86_64</arch><version epoch="%d" ver="%s" rel="%s"/><checksum type="sha256" pkgid="YES">%s</checksum><location href="%s"/></package>`,
			p.Name, p.Epoch, p.Version, p.Release, hexSum(b), href)
	}
	primary.WriteString("</metadata>")
	files[repo+"repodata/primary.xml"] = []byte(primary.String())
	files[repo+"repodata/repomd.xml"] = []byte(`<repomd xmlns="http://linux.duke.edu/metadata/repo"><data type="primary"><checksum type="sha256">` +
		hexSum([]byte(primary.String())) + `</checksum><location href="repodata/primary.xml"/></data></repomd>`)

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		var b []byte
		var ok bool
		if rest, isFedora := strings.CutPrefix(p, "/fedora"); isFedora {
			b, ok = files[rest]
		} else if rest, isFCOS := strings.CutPrefix(p, "/fcos"); isFCOS {
			b, ok = files[rest]
		}
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
	}))
	defer srv.Close()

	d := startDaemonWith(t, offline)
	args := []string{"images", "pull", "fedora-coreos", "--mirror", srv.URL + "/fcos", "--fedora-mirror", srv.URL + "/fedora", "--keyring", keyring}
	code, out, errOut := pixie(t, d, "", args...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	t.Logf("first pull, stdout:\n%s\nstderr:\n%s", out, errOut)
	loadersID := "fedora-coreos/stable/x86_64/" + ver + "/loaders"
	loaders := filepath.Join(d.DataDir, "assets", filepath.FromSlash(loadersID))
	wantContains(t, "pull", out, "fedora-coreos stable "+ver+": pulled",
		"Fedora 43 shim and GRUB for Secure Boot: pulled (shimx64.efi from shim-x64-15.8-3.x86_64, grubx64.efi from grub2-efi-x64-1:2.12-40.fc43.x86_64; "+loadersID+" in the asset store)")
	wantContains(t, "pull log", errOut, "no updates repository", "shim-x64.rpm: header signature verified (Fedora 43 test", "releases-primary.xml")
	for name, want := range map[string]string{"shimx64.efi": "FEDORA SHIM", "grubx64.efi": "FEDORA GRUB"} {
		if b, err := os.ReadFile(filepath.Join(loaders, name)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v", name, b, err)
		}
	}
	code, out, errOut = pixie(t, d, "", args...)
	if code != 0 {
		t.Fatalf("again: exit %d\n%s", code, errOut)
	}
	wantContains(t, "pull again", out, "already present, verified", "Fedora 43 shim and GRUB for Secure Boot: already present, verified")
	code, out, errOut = pixie(t, d, "", "images", "list")
	if code != 0 {
		t.Fatalf("list: exit %d\n%s", code, errOut)
	}
	wantContains(t, "list", out, "SHIM+GRUB", "Fedora 43")
	os.WriteFile(filepath.Join(loaders, "grubx64.efi"), []byte("changed"), 0o644)
	_, out, _ = pixie(t, d, "", "images", "list")
	wantContains(t, "list after damage", out, "damaged: pull again")
	code, out, errOut = pixie(t, d, "", args...)
	if code != 0 || !strings.Contains(out, "Fedora 43 shim and GRUB for Secure Boot: pulled") {
		t.Fatalf("repair pull: exit %d\n%s\n%s", code, out, errOut)
	}

	// --no-loaders: the image only. A fresh data dir and a mirror without
	// the repository show nothing is asked of it.
	d2 := startDaemonWith(t, offline)
	code, out, errOut = pixie(t, d2, "", "images", "pull", "fedora-coreos", "--mirror", srv.URL+"/fcos", "--keyring", keyring, "--no-loaders")
	if code != 0 || strings.Contains(out, "Secure Boot") {
		t.Fatalf("--no-loaders: exit %d\n%s\n%s", code, out, errOut)
	}
	// Without --no-loaders and with no repository to reach: the image is
	// there, the error says what is missing and what to do.
	code, _, errOut = pixie(t, d2, "", "images", "pull", "fedora-coreos", "--mirror", srv.URL+"/fcos", "--keyring", keyring, "--fedora-mirror", srv.URL+"/nothing")
	if code == 0 {
		t.Fatal("a pull whose loaders cannot be had succeeded")
	}
	t.Logf("pull without a repository:\n%s", errOut)
	wantContains(t, "no repository", errOut, "fedora-coreos stable "+ver+" is pulled, but Fedora's signed shim and GRUB for it are not", "--no-loaders", "Check --fedora-mirror "+srv.URL+"/nothing")
}
