package rpm

import (
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// MaxFile bounds one extracted file: loaders are a few megabytes.
const MaxFile = 64 << 20

// Extract returns the contents of the regular files named in want (paths
// as installed, e.g. /boot/efi/EFI/fedora/shimx64.efi) from the payload.
// It reads the whole payload and checks its digest against the header's
// before returning anything; a wanted file that is missing, or that is not
// a regular file, is an error.
func (p *Package) Extract(want []string) (map[string][]byte, error) {
	wanted := map[string]bool{}
	for _, w := range want {
		wanted[clean(w)] = true
	}
	raw := io.NewSectionReader(p.r, p.payloadOff, p.size-p.payloadOff)
	var sum hash.Hash
	digest, hasDigest := p.main.str(tagPayDigest)
	if hasDigest {
		if algo, ok := p.main.int32(tagPayAlgo); ok && algo != 8 {
			return nil, formatErr("payload digest algorithm %d: only sha256 (8) is supported", algo)
		}
		sum = sha256.New()
	}
	var src io.Reader = raw
	if sum != nil {
		src = io.TeeReader(raw, sum)
	}
	dec, closeDec, err := decompress(p.Compressor, bufio.NewReaderSize(src, 64<<10))
	if err != nil {
		return nil, err
	}
	defer closeDec()
	files, err := readCPIO(dec, wanted)
	if err != nil {
		return nil, fmt.Errorf("%s payload: %w", p.NEVRA(), err)
	}
	// Drain what follows the cpio trailer so the digest covers every byte.
	if _, err := io.Copy(io.Discard, src); err != nil {
		return nil, formatErr("%s payload: %v", p.NEVRA(), err)
	}
	if hasDigest && !hexEqual(digest, sum.Sum(nil)) {
		return nil, formatErr("%s: the payload's sha256 is %x, the header says %s: the file is damaged", p.NEVRA(), sum.Sum(nil), digest)
	}
	var missing []string
	for w := range wanted {
		if _, ok := files[w]; !ok {
			missing = append(missing, "/"+w)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s holds no file %s", p.NEVRA(), strings.Join(missing, ", "))
	}
	return files, nil
}

func clean(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

func decompress(compressor string, r io.Reader) (io.Reader, func(), error) {
	switch compressor {
	case "", "gzip":
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, formatErr("gzip payload: %v", err)
		}
		return z, func() { z.Close() }, nil
	case "xz":
		z, err := xz.NewReader(r)
		if err != nil {
			return nil, nil, formatErr("xz payload: %v", err)
		}
		return z, func() {}, nil
	case "zstd":
		z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(256<<20))
		if err != nil {
			return nil, nil, formatErr("zstd payload: %v", err)
		}
		return z, z.Close, nil
	}
	return nil, nil, formatErr("payload compressor %q: pixie reads gzip, xz and zstd", compressor)
}

// readCPIO reads a "newc" (070701) or "crc" (070702) cpio archive up to
// its trailer and keeps the wanted regular files. Hard-linked files carry
// their data on the last link only, so names waiting for an inode are
// filled when its data arrives.
func readCPIO(r io.Reader, wanted map[string]bool) (map[string][]byte, error) {
	out := map[string][]byte{}
	waiting := map[uint64][]string{}
	var off int64
	hdr := make([]byte, 110)
	skip := func(n int64) error {
		m, err := io.CopyN(io.Discard, r, n)
		off += m
		return err
	}
	pad := func() error { return skip((4 - off%4) % 4) }
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			return nil, formatErr("cpio archive ends without its trailer")
		}
		off += 110
		magic := string(hdr[:6])
		if magic != "070701" && magic != "070702" {
			return nil, formatErr("cpio entry magic %q: only the newc format is supported", magic)
		}
		var f [13]uint64
		for i := range f {
			v, err := strconv.ParseUint(string(hdr[6+8*i:14+8*i]), 16, 32)
			if err != nil {
				return nil, formatErr("cpio header field %d is not hex", i)
			}
			f[i] = v
		}
		ino, mode, nlink, size, namesize := f[0], f[1], f[4], f[6], f[11]
		if namesize == 0 || namesize > 4096 {
			return nil, formatErr("cpio name of %d bytes", namesize)
		}
		nb := make([]byte, namesize)
		if _, err := io.ReadFull(r, nb); err != nil {
			return nil, formatErr("cpio archive truncated in a name")
		}
		off += int64(namesize)
		name := clean(strings.TrimRight(string(nb), "\x00"))
		if err := pad(); err != nil {
			return nil, formatErr("cpio archive truncated")
		}
		if strings.TrimRight(string(nb), "\x00") == "TRAILER!!!" {
			return out, nil
		}
		regular := mode&0o170000 == 0o100000
		keep := regular && wanted[name]
		if keep && size > MaxFile {
			return nil, fmt.Errorf("/%s is %d bytes, more than the %d a loader may be", name, size, MaxFile)
		}
		if keep && size == 0 && nlink > 1 {
			waiting[ino] = append(waiting[ino], name)
		}
		if regular && size > 0 && (keep || len(waiting[ino]) > 0) {
			b := make([]byte, size)
			if _, err := io.ReadFull(r, b); err != nil {
				return nil, formatErr("cpio archive truncated in /%s", name)
			}
			off += int64(size)
			if keep {
				out[name] = b
			}
			for _, w := range waiting[ino] {
				out[w] = b
			}
			delete(waiting, ino)
		} else {
			if err := skip(int64(size)); err != nil {
				return nil, formatErr("cpio archive truncated in /%s", name)
			}
			if keep && nlink <= 1 {
				out[name] = []byte{}
			}
		}
		if err := pad(); err != nil {
			return nil, formatErr("cpio archive truncated")
		}
	}
}
