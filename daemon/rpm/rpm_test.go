package rpm_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/pixie-boot/pixie/daemon/rpm"
	"github.com/pixie-boot/pixie/daemon/rpm/rpmtest"
)

func key(t *testing.T, name string) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", name+"@example.test", nil)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

const shimPath = "/boot/efi/EFI/fedora/shimx64.efi"

func spec(signer *openpgp.Entity, comp string) rpmtest.Spec {
	return rpmtest.Spec{Name: "shim-x64", Version: "15.8", Release: "3", Arch: "x86_64", Epoch: 0,
		Files: map[string][]byte{
			shimPath:                          []byte("MZ shim binary"),
			"/boot/efi/EFI/fedora/mmx64.efi":  []byte("MZ mok manager"),
			"/usr/share/doc/shim-x64/LICENSE": []byte("BSD"),
		},
		HardLinks:  map[string]string{"/boot/efi/EFI/BOOT/BOOTX64.EFI": shimPath},
		Compressor: comp, Signer: signer}
}

func read(t *testing.T, b []byte) (*rpm.Package, error) {
	t.Helper()
	return rpm.Read(bytes.NewReader(b), int64(len(b)))
}

func TestExtractEachCompressor(t *testing.T) {
	signer := key(t, "Fedora test")
	for _, comp := range []string{"gzip", "xz", "zstd"} {
		t.Run(comp, func(t *testing.T) {
			b, err := rpmtest.Build(spec(signer, comp))
			if err != nil {
				t.Fatal(err)
			}
			p, err := read(t, b)
			if err != nil {
				t.Fatal(err)
			}
			if p.NEVRA() != "shim-x64-15.8-3.x86_64" || p.Compressor != comp {
				t.Fatalf("NEVRA %s compressor %s", p.NEVRA(), p.Compressor)
			}
			who, err := p.VerifySignature(openpgp.EntityList{signer})
			if err != nil {
				t.Fatal(err)
			}
			if who.PrimaryKey.KeyId != signer.PrimaryKey.KeyId {
				t.Fatalf("signer %x", who.PrimaryKey.KeyId)
			}
			files, err := p.Extract([]string{shimPath, "/boot/efi/EFI/BOOT/BOOTX64.EFI"})
			if err != nil {
				t.Fatal(err)
			}
			if string(files["boot/efi/EFI/fedora/shimx64.efi"]) != "MZ shim binary" {
				t.Fatalf("shim: %q", files["boot/efi/EFI/fedora/shimx64.efi"])
			}
			// The hard link comes first in the archive, with no data.
			if string(files["boot/efi/EFI/BOOT/BOOTX64.EFI"]) != "MZ shim binary" {
				t.Fatalf("hard link: %q", files["boot/efi/EFI/BOOT/BOOTX64.EFI"])
			}
			if len(files) != 2 {
				t.Fatalf("extracted %d files, want the 2 asked for", len(files))
			}
		})
	}
}

func TestEpochInNEVRA(t *testing.T) {
	s := spec(nil, "gzip")
	s.Name, s.Epoch = "grub2-efi-x64", 1
	b, _ := rpmtest.Build(s)
	p, err := read(t, b)
	if err != nil {
		t.Fatal(err)
	}
	if p.NEVRA() != "grub2-efi-x64-1:15.8-3.x86_64" {
		t.Fatal(p.NEVRA())
	}
}

func TestSignatureRefused(t *testing.T) {
	signer, other := key(t, "Fedora test"), key(t, "Someone else")
	b, _ := rpmtest.Build(spec(signer, "gzip"))
	p, err := read(t, b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.VerifySignature(openpgp.EntityList{other}); err == nil || !strings.Contains(err.Error(), "not among the trusted") {
		t.Fatalf("another key: %v", err)
	}
	unsigned, _ := rpmtest.Build(spec(nil, "gzip"))
	p, err = read(t, unsigned)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.VerifySignature(openpgp.EntityList{signer}); !errors.Is(err, rpm.ErrUnsigned) {
		t.Fatalf("unsigned: %v", err)
	}

	// A header changed after signing, its sha256 digest left out so that
	// only the signature can catch it: the release string is edited in
	// place (same length).
	s := spec(signer, "gzip")
	s.NoDigests = true
	lead, sig, main, payload, err := rpmtest.Parts(s)
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Replace(main, []byte("15.8\x00"), []byte("15.9\x00"), 1)
	p, err = read(t, rpmtest.Join(lead, sig, tampered, payload))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.VerifySignature(openpgp.EntityList{signer}); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("tampered header: %v", err)
	}
}

func TestDamageDetected(t *testing.T) {
	signer := key(t, "Fedora test")
	lead, sig, main, payload, err := rpmtest.Parts(spec(signer, "gzip"))
	if err != nil {
		t.Fatal(err)
	}
	// A header byte changed: the signature header's sha256 catches it.
	badMain := bytes.Replace(main, []byte("x86_64"), []byte("x86_65"), 1)
	if _, err := read(t, rpmtest.Join(lead, sig, badMain, payload)); !errors.Is(err, rpm.ErrFormat) || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("damaged header: %v", err)
	}
	// A payload byte changed (in the gzip trailer's CRC, so decompression
	// alone might not notice): the payload digest catches it.
	badPayload := bytes.Clone(payload)
	badPayload[len(badPayload)-1] ^= 0xff
	p, err := read(t, rpmtest.Join(lead, sig, main, badPayload))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Extract([]string{shimPath}); err == nil {
		t.Fatal("a damaged payload was extracted")
	}
	// Junk appended after the payload is covered by the digest too.
	p, _ = read(t, rpmtest.Join(lead, sig, main, append(bytes.Clone(payload), "junk"...)))
	if _, err := p.Extract([]string{shimPath}); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("junk after the payload: %v", err)
	}
}

func TestExtractMissingFile(t *testing.T) {
	b, _ := rpmtest.Build(spec(nil, "zstd"))
	p, err := read(t, b)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Extract([]string{"/boot/efi/EFI/fedora/grubx64.efi"})
	if err == nil || !strings.Contains(err.Error(), "holds no file /boot/efi/EFI/fedora/grubx64.efi") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestMalformed(t *testing.T) {
	good, _ := rpmtest.Build(spec(nil, "gzip"))
	cases := map[string][]byte{
		"empty":          nil,
		"short lead":     good[:50],
		"not an rpm":     append([]byte("PK\x03\x04"), good[4:]...),
		"truncated sig":  good[:110],
		"truncated main": good[:len(good)/4],
	}
	huge := bytes.Clone(good)
	copy(huge[96+8:], []byte{0xff, 0xff, 0xff, 0xff})
	cases["huge index"] = huge
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := read(t, b); !errors.Is(err, rpm.ErrFormat) {
				t.Fatalf("got %v, want ErrFormat", err)
			}
		})
	}
	s := spec(nil, "lzip")
	b, _ := rpmtest.Build(s)
	p, err := read(t, b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Extract([]string{shimPath}); err == nil || !strings.Contains(err.Error(), `compressor "lzip"`) {
		t.Fatalf("unknown compressor: %v", err)
	}
}

func FuzzRead(f *testing.F) {
	good, _ := rpmtest.Build(spec(nil, "gzip"))
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := rpm.Read(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		p.Extract([]string{shimPath}) // must not panic or hang
	})
}
