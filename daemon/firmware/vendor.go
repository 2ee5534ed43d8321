package firmware

import (
	"crypto/x509"
	"debug/pe"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// A shim boots only what its vendor signed: the vendor's CA certificate is
// built into it, in the PE section ".vendor_cert". Debian's shim carries
// "Debian Secure Boot CA", Fedora's "Fedora Secure Boot CA". Reading it
// tells a person (and `pixie doctor`) whose kernels a shim will start
// under Secure Boot, without trusting the file's name or where it came
// from.

// maxVendorSection bounds the section read: real ones are a few KiB.
const maxVendorSection = 1 << 20

// ShimVendor returns the name (the certificate's common name, else its
// organization) of the CA built into the shim in r.
func ShimVendor(r io.ReaderAt) (string, error) {
	f, err := pe.NewFile(r)
	if err != nil {
		return "", fmt.Errorf("not a PE (EFI) program: %w", err)
	}
	defer f.Close()
	s := f.Section(".vendor_cert")
	if s == nil {
		return "", errors.New("no .vendor_cert section: not a shim, or one without a built-in vendor certificate")
	}
	if s.Size > maxVendorSection {
		return "", fmt.Errorf(".vendor_cert section of %d bytes: too large for a certificate table", s.Size)
	}
	data, err := s.Data()
	if err != nil {
		return "", fmt.Errorf("reading .vendor_cert: %w", err)
	}
	return vendorCertName(data)
}

// vendorCertName parses shim's cert_table: four little-endian uint32s
// (size of the vendor certificate, size of the vendor's revocation list,
// and their offsets from the start of the section), then the DER data.
func vendorCertName(sec []byte) (string, error) {
	if len(sec) < 16 {
		return "", errors.New("certificate table too short")
	}
	size := binary.LittleEndian.Uint32(sec[0:])
	off := binary.LittleEndian.Uint32(sec[8:])
	if size == 0 {
		return "", errors.New("no vendor certificate built in")
	}
	if uint64(off)+uint64(size) > uint64(len(sec)) {
		return "", fmt.Errorf("vendor certificate (%d bytes at %d) runs past the section (%d bytes)", size, off, len(sec))
	}
	cert, err := x509.ParseCertificate(sec[off : off+size])
	if err != nil {
		return "", fmt.Errorf("vendor certificate unreadable: %w", err)
	}
	switch {
	case cert.Subject.CommonName != "":
		return cert.Subject.CommonName, nil
	case len(cert.Subject.Organization) > 0:
		return cert.Subject.Organization[0], nil
	}
	return "", errors.New("vendor certificate names no subject")
}

// vendor reads the vendor of an opened shim; "" when it cannot be told
// (the report then says nothing rather than guess).
func (f *File) vendor() string {
	ra, ok := f.r.(io.ReaderAt)
	if !ok {
		return ""
	}
	v, err := ShimVendor(io.NewSectionReader(ra, 0, f.size))
	if err != nil {
		return ""
	}
	return v
}
