package firmware

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// certTable builds a shim .vendor_cert section holding der at offset 16.
func certTable(der []byte, declared int) []byte {
	sec := make([]byte, 16, 16+len(der)+8)
	binary.LittleEndian.PutUint32(sec[0:], uint32(declared))
	binary.LittleEndian.PutUint32(sec[8:], 16)
	sec = append(sec, der...)
	return append(sec, make([]byte, 8)...) // sections are padded
}

func testCert(t *testing.T, subject pkix.Name) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: subject, NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<31, 0), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestVendorCertName(t *testing.T) {
	cn := testCert(t, pkix.Name{CommonName: "Example Secure Boot CA"})
	org := testCert(t, pkix.Name{Organization: []string{"Example Org"}})
	for _, tc := range []struct {
		name, want, err string
		sec             []byte
	}{
		{name: "common name", sec: certTable(cn, len(cn)), want: "Example Secure Boot CA"},
		{name: "organization only", sec: certTable(org, len(org)), want: "Example Org"},
		{name: "empty", sec: nil, err: "too short"},
		{name: "no certificate", sec: certTable(nil, 0), err: "no vendor certificate"},
		{name: "size past the end", sec: certTable(cn, len(cn)+100), err: "runs past the section"},
		{name: "huge size", sec: certTable(cn, 1<<32-1), err: "runs past the section"},
		{name: "not DER", sec: certTable([]byte("not a certificate at all"), 24), err: "unreadable"},
	} {
		got, err := vendorCertName(tc.sec)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: got %q, %v; want an error with %q", tc.name, got, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

func TestShimVendorNotPE(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("MZ"), bytes.Repeat([]byte{0}, 4096)} {
		if v, err := ShimVendor(bytes.NewReader(b)); err == nil {
			t.Errorf("ShimVendor(%d bytes of junk) = %q, want an error", len(b), v)
		}
	}
}

// TestShimVendorDebian reads Debian's real shims when they are unpacked
// (assets/firmware/fetch-debian-loaders.sh --unpack, as CI does) or
// installed.
func TestShimVendorDebian(t *testing.T) {
	cache := os.Getenv("PIXIE_LOADER_CACHE")
	if cache == "" {
		cache = "/var/cache/pixie-test/loaders"
	}
	seen := 0
	for _, name := range []string{"shimx64.efi.signed", "shimaa64.efi.signed"} {
		for _, dir := range []string{"/usr/lib/shim", filepath.Join(cache, "usr/lib/shim")} {
			f, err := os.Open(filepath.Join(dir, name))
			if err != nil {
				continue
			}
			v, err := ShimVendor(f)
			f.Close()
			if err != nil || v != "Debian Secure Boot CA" {
				t.Errorf("%s/%s: vendor %q, %v; want Debian Secure Boot CA", dir, name, v, err)
			}
			seen++
			break
		}
	}
	if seen == 0 {
		t.Skip("no Debian shim unpacked or installed")
	}
	// GRUB is signed by Debian but carries no vendor certificate.
	grub := filepath.Join(cache, "usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed")
	if f, err := os.Open(grub); err == nil {
		defer f.Close()
		if v, err := ShimVendor(f); err == nil {
			t.Errorf("GRUB %s has a vendor %q: want an error", grub, v)
		}
	}
}

// TestStatusReportKindVendor: the control API's report says what each file
// is, and whose kernels a shim boots when its vendor can be read (a file
// that is no shim gets no vendor rather than a guess).
func TestStatusReportKindVendor(t *testing.T) {
	dataDir := t.TempDir()
	fw := OverrideDir(dataDir)
	if err := os.MkdirAll(fw, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(fw, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ipxe.efi", []byte("ipxe"))
	write("grubx64.efi", []byte("grub"))
	write("shimaa64.efi", []byte("not really a shim"))
	wantVendor := ""
	cache := os.Getenv("PIXIE_LOADER_CACHE")
	if cache == "" {
		cache = "/var/cache/pixie-test/loaders"
	}
	if b, err := os.ReadFile(filepath.Join(cache, "usr/lib/shim/shimx64.efi.signed")); err == nil {
		write("shimx64.efi", b)
		wantVendor = "Debian Secure Boot CA"
	} else {
		write("shimx64.efi", []byte("shim"))
	}
	s := NewFrom(Dirs{DataDir: dataDir}, nil)
	got := map[string]string{}
	for _, a := range s.StatusReport() {
		for _, f := range a.Files {
			got[a.Arch+" "+f.Name] = f.Kind + "/" + f.Vendor
		}
	}
	want := map[string]string{
		"efi-x64 ipxe.efi":       "ipxe/",
		"efi-x64 grubx64.efi":    "grub/",
		"efi-x64 shimx64.efi":    "shim/" + wantVendor,
		"efi-arm64 shimaa64.efi": "shim/",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: kind/vendor %q, want %q (all: %v)", k, got[k], w, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("report lists %v, want only %v", got, want)
	}
}
