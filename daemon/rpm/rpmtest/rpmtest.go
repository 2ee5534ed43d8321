// Package rpmtest builds small RPM files for tests: the same layout rpm
// writes (lead, signature header padded to 8 bytes, header, compressed
// newc cpio payload), with a real OpenPGP signature over the header, so
// the reader and the repository code are tested against packages whose
// every field can be chosen and broken. There is no internet here to
// fetch Fedora's.
package rpmtest

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Spec is one package to build.
type Spec struct {
	Name, Version, Release, Arch string
	Epoch                        int
	// Files maps installed paths (/boot/efi/EFI/fedora/shimx64.efi) to
	// contents. HardLinks maps a path to another of Files whose inode it
	// shares (written first, with no data, as rpm does).
	Files     map[string][]byte
	HardLinks map[string]string
	// Compressor is gzip (default), xz or zstd.
	Compressor string
	// Signer signs the header (RSAHEADER); nil leaves the package unsigned.
	Signer *openpgp.Entity
	// NoDigests leaves out the header and payload digests.
	NoDigests bool
}

const (
	typeInt32       = 4
	typeString      = 6
	typeBin         = 7
	typeStringArray = 8
)

type tagValue struct {
	tag uint32
	typ uint32
	val any // string, []string, uint32, []byte
}

// header encodes entries as an rpm header (magic, index, data store).
func header(tags []tagValue) []byte {
	sort.Slice(tags, func(i, j int) bool { return tags[i].tag < tags[j].tag })
	var data, index bytes.Buffer
	for _, t := range tags {
		var count uint32
		if t.typ == typeInt32 {
			for data.Len()%4 != 0 {
				data.WriteByte(0)
			}
		}
		off := uint32(data.Len())
		switch v := t.val.(type) {
		case string:
			data.WriteString(v)
			data.WriteByte(0)
			count = 1
		case []string:
			for _, s := range v {
				data.WriteString(s)
				data.WriteByte(0)
			}
			count = uint32(len(v))
		case uint32:
			binary.Write(&data, binary.BigEndian, v)
			count = 1
		case []byte:
			data.Write(v)
			count = uint32(len(v))
		}
		binary.Write(&index, binary.BigEndian, [4]uint32{t.tag, t.typ, off, count})
	}
	var out bytes.Buffer
	out.Write([]byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0})
	binary.Write(&out, binary.BigEndian, uint32(len(tags)))
	binary.Write(&out, binary.BigEndian, uint32(data.Len()))
	out.Write(index.Bytes())
	out.Write(data.Bytes())
	return out.Bytes()
}

// CPIO builds a newc archive of the files, hard links first.
func CPIO(files map[string][]byte, links map[string]string) []byte {
	var b bytes.Buffer
	ino := uint32(1)
	inos := map[string]uint32{}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		inos[n] = ino
		ino++
	}
	entry := func(name string, ino, mode, nlink uint32, data []byte) {
		fmt.Fprintf(&b, "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
			ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
		b.WriteString(name)
		b.WriteByte(0)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
		b.Write(data)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
	}
	entry(".", ino, 0o40755, 2, nil)
	ino++
	nlinks := map[string]uint32{}
	for _, target := range links {
		nlinks[target]++
	}
	for l, target := range links {
		entry("."+l, inos[target], 0o100644, nlinks[target]+1, nil)
	}
	for _, n := range names {
		entry("."+n, inos[n], 0o100644, nlinks[n]+1, files[n])
	}
	entry("TRAILER!!!", 0, 0, 1, nil)
	return b.Bytes()
}

func compress(kind string, b []byte) []byte {
	var out bytes.Buffer
	switch kind {
	case "", "gzip":
		z := gzip.NewWriter(&out)
		z.Write(b)
		z.Close()
	case "xz":
		z, _ := xz.NewWriter(&out)
		z.Write(b)
		z.Close()
	case "zstd":
		z, _ := zstd.NewWriter(&out)
		z.Write(b)
		z.Close()
	default:
		out.Write(b) // an unknown compressor: the reader must refuse it
	}
	return out.Bytes()
}

// Build returns the RPM file. Parts returns its pieces for tests that
// corrupt one.
func Build(s Spec) ([]byte, error) {
	lead, sig, main, payload, err := Parts(s)
	if err != nil {
		return nil, err
	}
	return Join(lead, sig, main, payload), nil
}

// Join puts the parts together, padding the signature header to 8 bytes.
func Join(lead, sig, main, payload []byte) []byte {
	var out bytes.Buffer
	out.Write(lead)
	out.Write(sig)
	for out.Len()%8 != 0 {
		out.WriteByte(0)
	}
	out.Write(main)
	out.Write(payload)
	return out.Bytes()
}

// Parts builds the lead, signature header, main header and payload.
func Parts(s Spec) (lead, sig, main, payload []byte, err error) {
	comp := s.Compressor
	if comp == "" {
		comp = "gzip"
	}
	payload = compress(comp, CPIO(s.Files, s.HardLinks))
	psum := sha256.Sum256(payload)
	tags := []tagValue{
		{1000, typeString, s.Name}, {1001, typeString, s.Version}, {1002, typeString, s.Release},
		{1022, typeString, s.Arch}, {1124, typeString, "cpio"}, {1125, typeString, comp},
	}
	if s.Epoch != 0 {
		tags = append(tags, tagValue{1003, typeInt32, uint32(s.Epoch)})
	}
	if !s.NoDigests {
		tags = append(tags, tagValue{5092, typeStringArray, []string{hex.EncodeToString(psum[:])}}, tagValue{5093, typeInt32, uint32(8)})
	}
	main = header(tags)
	var sigTags []tagValue
	if !s.NoDigests {
		hs := sha256.Sum256(main)
		sigTags = append(sigTags, tagValue{273, typeString, hex.EncodeToString(hs[:])})
	}
	if s.Signer != nil {
		var sb bytes.Buffer
		if err := openpgp.DetachSign(&sb, s.Signer, bytes.NewReader(main), nil); err != nil {
			return nil, nil, nil, nil, err
		}
		sigTags = append(sigTags, tagValue{268, typeBin, sb.Bytes()})
	}
	sigTags = append(sigTags, tagValue{1000, typeInt32, uint32(len(main) + len(payload))})
	sig = header(sigTags)
	lead = make([]byte, 96)
	copy(lead, []byte{0xed, 0xab, 0xee, 0xdb, 3, 0})
	return lead, sig, main, payload, nil
}
