// Package rpm reads RPM package files without rpm(8): their headers (name,
// version, the payload's compressor and digest), the OpenPGP signature over
// the header, and the files of the cpio payload. pixie uses it to take
// Fedora's signed shim and GRUB out of the shim-x64 and grub2-efi-x64
// packages, on any OS pixie runs on.
//
// An RPM file is a 96-byte lead, a signature header (padded to 8 bytes),
// the main header, and the compressed cpio payload. The signature header's
// RSAHEADER tag is an OpenPGP signature over the main header's bytes, and
// the main header carries the sha256 of the compressed payload
// (PAYLOADDIGEST): so a verified signature vouches for every byte of the
// files extracted, and Extract checks the digest before returning any.
package rpm

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Header tags pixie reads (rpm's rpmtag.h).
const (
	sigTagDSA    = 267  // RPMSIGTAG_DSA: OpenPGP signature over the header
	sigTagRSA    = 268  // RPMSIGTAG_RSA: OpenPGP signature over the header
	sigTagSHA256 = 273  // RPMSIGTAG_SHA256: hex sha256 of the header
	sigTagPGPv6  = 278  // RPMSIGTAG_OPENPGP (rpm 6): base64 signatures
	tagName      = 1000 //
	tagVersion   = 1001
	tagRelease   = 1002
	tagEpoch     = 1003
	tagArch      = 1022
	tagFormat    = 1124 // PAYLOADFORMAT: "cpio"
	tagCompress  = 1125 // PAYLOADCOMPRESSOR: gzip, xz, zstd
	tagPayDigest = 5092 // PAYLOADDIGEST: hex digest of the compressed payload
	tagPayAlgo   = 5093 // PAYLOADDIGESTALGO: 8 is sha256
)

// Header entry types.
const (
	typeInt32       = 4
	typeString      = 6
	typeBin         = 7
	typeStringArray = 8
	typeI18NString  = 9
)

const (
	leadSize = 96
	// maxHeader bounds a header's index and data, far above any real
	// package's (shim's is a few kilobytes, a kernel's under a megabyte).
	maxHeader = 32 << 20
	maxIndex  = 1 << 16
)

var (
	leadMagic   = []byte{0xed, 0xab, 0xee, 0xdb}
	headerMagic = []byte{0x8e, 0xad, 0xe8, 0x01}
)

// ErrFormat is what every malformed-file error matches (errors.Is).
var ErrFormat = errors.New("not a valid RPM package")

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrFormat}, args...)...)
}

// header is one parsed header: its entries by tag, and its bytes on disk.
type header struct {
	raw     []byte // magic to the end of the data store
	entries map[uint32]entry
	data    []byte
}

type entry struct {
	typ, offset, count uint32
}

// Package is an RPM file whose headers have been read.
type Package struct {
	Name, Version, Release, Arch string
	Epoch                        int
	// Compressor is the payload's compression (gzip, xz, zstd).
	Compressor string

	r          io.ReaderAt
	size       int64
	sig, main  header
	payloadOff int64
}

// NEVRA spells the package as rpm -q does, e.g. shim-x64-15.8-3.x86_64.
func (p *Package) NEVRA() string {
	evr := p.Version + "-" + p.Release
	if p.Epoch != 0 {
		evr = strconv.Itoa(p.Epoch) + ":" + evr
	}
	return p.Name + "-" + evr + "." + p.Arch
}

// Read reads the lead and both headers of the RPM file r of size bytes.
// When the signature header carries the header's sha256 it is checked.
func Read(r io.ReaderAt, size int64) (*Package, error) {
	lead := make([]byte, leadSize)
	if _, err := r.ReadAt(lead, 0); err != nil {
		return nil, formatErr("shorter than an RPM lead (%d bytes)", size)
	}
	if !bytes.Equal(lead[:4], leadMagic) {
		return nil, formatErr("no RPM lead magic")
	}
	sig, err := readHeader(r, leadSize, size)
	if err != nil {
		return nil, fmt.Errorf("signature header: %w", err)
	}
	mainOff := int64(leadSize) + int64(len(sig.raw))
	mainOff += (8 - mainOff%8) % 8 // the signature header is padded to 8 bytes
	main, err := readHeader(r, mainOff, size)
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	p := &Package{r: r, size: size, sig: sig, main: main, payloadOff: mainOff + int64(len(main.raw))}
	if want, ok := sig.str(sigTagSHA256); ok {
		got := sha256.Sum256(main.raw)
		if !hexEqual(want, got[:]) {
			return nil, formatErr("the header's sha256 is %x, the signature header says %s: the file is damaged", got, want)
		}
	}
	p.Name, _ = main.str(tagName)
	p.Version, _ = main.str(tagVersion)
	p.Release, _ = main.str(tagRelease)
	p.Arch, _ = main.str(tagArch)
	if e, ok := main.int32(tagEpoch); ok {
		p.Epoch = int(e)
	}
	if p.Name == "" || p.Version == "" {
		return nil, formatErr("the header has no name or version")
	}
	p.Compressor, _ = main.str(tagCompress)
	if f, ok := main.str(tagFormat); ok && f != "cpio" {
		return nil, formatErr("payload format %q: only cpio is supported", f)
	}
	return p, nil
}

func readHeader(r io.ReaderAt, off, size int64) (header, error) {
	pre := make([]byte, 16)
	if _, err := r.ReadAt(pre, off); err != nil {
		return header{}, formatErr("truncated at byte %d", off)
	}
	if !bytes.Equal(pre[:4], headerMagic) {
		return header{}, formatErr("no header magic at byte %d", off)
	}
	il := binary.BigEndian.Uint32(pre[8:12])
	dl := binary.BigEndian.Uint32(pre[12:16])
	if il == 0 || il > maxIndex || dl > maxHeader {
		return header{}, formatErr("header of %d entries and %d data bytes", il, dl)
	}
	n := int64(16) + int64(il)*16 + int64(dl)
	if off+n > size {
		return header{}, formatErr("header runs past the end of the file")
	}
	raw := make([]byte, n)
	if _, err := r.ReadAt(raw, off); err != nil {
		return header{}, formatErr("truncated header: %v", err)
	}
	h := header{raw: raw, entries: make(map[uint32]entry, il), data: raw[16+il*16:]}
	for i := uint32(0); i < il; i++ {
		b := raw[16+i*16:]
		e := entry{typ: binary.BigEndian.Uint32(b[4:]), offset: binary.BigEndian.Uint32(b[8:]), count: binary.BigEndian.Uint32(b[12:])}
		if e.offset > dl {
			return header{}, formatErr("entry %d points past the header data", i)
		}
		h.entries[binary.BigEndian.Uint32(b)] = e
	}
	return h, nil
}

// strs returns a string, string array or i18n string entry.
func (h header) strs(tag uint32) ([]string, bool) {
	e, ok := h.entries[tag]
	if !ok || (e.typ != typeString && e.typ != typeStringArray && e.typ != typeI18NString) {
		return nil, false
	}
	if e.count > maxIndex {
		return nil, false
	}
	d := h.data[e.offset:]
	out := make([]string, 0, e.count)
	for i := uint32(0); i < e.count || e.typ == typeString && i < 1; i++ {
		end := bytes.IndexByte(d, 0)
		if end < 0 {
			return nil, false
		}
		out = append(out, string(d[:end]))
		d = d[end+1:]
	}
	return out, true
}

func (h header) str(tag uint32) (string, bool) {
	s, ok := h.strs(tag)
	if !ok || len(s) == 0 {
		return "", false
	}
	return s[0], true
}

func (h header) int32(tag uint32) (uint32, bool) {
	e, ok := h.entries[tag]
	if !ok || e.typ != typeInt32 || e.count < 1 || int(e.offset)+4 > len(h.data) {
		return 0, false
	}
	return binary.BigEndian.Uint32(h.data[e.offset:]), true
}

func (h header) bin(tag uint32) ([]byte, bool) {
	e, ok := h.entries[tag]
	if !ok || e.typ != typeBin || uint64(e.offset)+uint64(e.count) > uint64(len(h.data)) {
		return nil, false
	}
	return h.data[e.offset : e.offset+e.count], true
}

func hexEqual(want string, got []byte) bool {
	w, err := hex.DecodeString(want)
	return err == nil && bytes.Equal(w, got)
}
