package images

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// TestEmbeddedKeys: every embedded key parses, has the fingerprint and
// user ID DistributionKeys and keys/README.md document, and its
// self-signatures (and subkey binding signatures) verify; no key file is
// left unlisted.
func TestEmbeddedKeys(t *testing.T) {
	readme, err := os.ReadFile("keys/README.md")
	if err != nil {
		t.Fatal(err)
	}
	spaced := func(fp string) string { // README spelling: 4-digit groups, two spaces in the middle
		var g []string
		for i := 0; i < len(fp); i += 4 {
			g = append(g, fp[i:i+4])
		}
		return strings.Join(g[:5], " ") + "  " + strings.Join(g[5:], " ")
	}
	listed := map[string]bool{}
	for _, k := range DistributionKeys {
		listed[k.File] = true
		b, err := keyFiles.ReadFile("keys/" + k.File)
		if err != nil {
			t.Fatal(err)
		}
		el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(b))
		if err != nil || len(el) != 1 {
			t.Fatalf("%s: %d keys, %v", k.File, len(el), err)
		}
		e := el[0]
		if got := strings.ToUpper(hexString(e.PrimaryKey.Fingerprint)); got != k.Fingerprint {
			t.Errorf("%s: fingerprint %s, want %s", k.File, got, k.Fingerprint)
		}
		id, ok := e.Identities[k.What]
		if !ok || len(e.Identities) != 1 {
			t.Errorf("%s: identities %v, want only %q", k.File, keys(e.Identities), k.What)
		} else if err := e.PrimaryKey.VerifyUserIdSignature(k.What, e.PrimaryKey, id.SelfSignature); err != nil {
			t.Errorf("%s: user ID self-signature: %v", k.File, err)
		}
		for _, sk := range e.Subkeys {
			if err := e.PrimaryKey.VerifyKeySignature(sk.PublicKey, sk.Sig); err != nil {
				t.Errorf("%s: subkey %X binding signature: %v", k.File, sk.PublicKey.Fingerprint, err)
			}
		}
		if !bytes.Contains(readme, []byte(spaced(k.Fingerprint))) || !bytes.Contains(readme, []byte("`"+k.File+"`")) {
			t.Errorf("keys/README.md does not document %s with fingerprint %s", k.File, spaced(k.Fingerprint))
		}
	}
	// Flatcar signs with its subkey, documented in the README too.
	fl, err := DistributionKeyring("flatcar")
	if err != nil || len(fl) != 1 || len(fl[0].Subkeys) != 1 ||
		strings.ToUpper(hexString(fl[0].Subkeys[0].PublicKey.Fingerprint)) != "52F145DFD00BBDCD928CBB5A32DA80F91EF52974" {
		t.Errorf("flatcar keyring: %v %v", fl, err)
	}
	if fc, err := DistributionKeyring("fedora-coreos"); err != nil || len(fc) != 5 {
		t.Errorf("fedora-coreos keyring: %d keys, %v", len(fc), err)
	}
	if none, err := DistributionKeyring("generic"); err != nil || none != nil {
		t.Errorf("generic keyring: %v %v", none, err)
	}
	files, _ := fs.Glob(keyFiles, "keys/*.asc")
	for _, f := range files {
		if !listed[filepath.Base(f)] {
			t.Errorf("%s is embedded but not in DistributionKeys", f)
		}
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestPullVerifiesDistributionSignatures: with DistributionKeys (what the
// CLI sets unless --no-signature), every Fedora CoreOS artifact's published
// signature is checked with the distribution's keys, here a key made by
// the test standing in for the embedded Fedora key.
func TestPullVerifiesDistributionSignatures(t *testing.T) {
	f := newFixture(t)
	fedora, err := openpgp.NewEntity("Fedora test key", "", "fedora-test@example.invalid", nil)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := openpgp.NewEntity("Someone else", "", "x@example.invalid", nil)
	dir := "/prod/streams/stable/builds/" + fcosVer + "/x86_64/"
	names := []string{"fedora-coreos-" + fcosVer + "-live-kernel-x86_64", "fedora-coreos-" + fcosVer + "-live-initramfs.x86_64.img", "fedora-coreos-" + fcosVer + "-live-rootfs.x86_64.img"}
	signAll := func(e *openpgp.Entity) {
		for _, n := range names {
			var sig bytes.Buffer
			if err := openpgp.DetachSign(&sig, e, bytes.NewReader(f.files[dir+n]), nil); err != nil {
				t.Fatal(err)
			}
			f.files[dir+n+".sig"] = sig.Bytes()
		}
	}
	signAll(fedora)
	var asked []string
	var log bytes.Buffer
	p := f.puller(&log)
	p.DistributionKeys = true
	p.distKeyring = func(osName string) (openpgp.EntityList, error) {
		asked = append(asked, osName)
		return openpgp.EntityList{fedora}, nil
	}
	req := Request{OS: "fedora-coreos", Stream: "stable", Arch: "x86_64", Mirror: f.srv.URL}
	assets := t.TempDir()
	res, err := p.Pull(context.Background(), assets, req)
	if err != nil {
		t.Fatalf("pull: %v\n%s", err, log.String())
	}
	if strings.Count(log.String(), "signature verified (Fedora test key") != 3 || len(asked) != 3 || asked[0] != "fedora-coreos" {
		t.Errorf("keyrings asked for %v; log:\n%s", asked, log.String())
	}
	for _, fl := range res.Image.Files {
		if !fl.Signed {
			t.Errorf("%s not marked signature_verified", fl.Name)
		}
	}

	// Signed by another key: refused, and nothing under a final name.
	signAll(other)
	assets2 := t.TempDir()
	_, err = p.Pull(context.Background(), assets2, req)
	if err == nil || !strings.Contains(err.Error(), "signature does not verify with pixie's embedded fedora-coreos keys") || !strings.Contains(err.Error(), "--no-signature") {
		t.Fatalf("signature by another key: %v", err)
	}
	noFinal(t, filepath.Join(assets2, "fedora-coreos/stable/x86_64", fcosVer), names[0])

	// Published but missing: refused too (the distribution says there is one).
	for _, n := range names {
		delete(f.files, dir+n+".sig")
	}
	if _, err = p.Pull(context.Background(), t.TempDir(), req); err == nil || !strings.Contains(err.Error(), "fetch signature") {
		t.Fatalf("missing signature: %v", err)
	}

	// The real embedded keys are used when nothing replaces them: the
	// test key's signatures do not verify with Fedora's keys.
	signAll(fedora)
	p.distKeyring = nil
	if _, err = p.Pull(context.Background(), t.TempDir(), req); err == nil || !strings.Contains(err.Error(), "does not verify with pixie's embedded fedora-coreos keys") {
		t.Fatalf("test signatures against the embedded Fedora keys: %v", err)
	}
	// And without DistributionKeys (or --keyring) nothing is checked.
	p.DistributionKeys = false
	log.Reset()
	if _, err = p.Pull(context.Background(), t.TempDir(), req); err != nil || !strings.Contains(log.String(), "signature not checked") {
		t.Fatalf("no keys: %v\n%s", err, log.String())
	}
}
