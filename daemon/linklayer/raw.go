package linklayer

import (
	"encoding/binary"
	"errors"
)

// RawFrame is one frame read from a link-layer socket into a caller's
// buffer, with what the system said about it.
type RawFrame struct {
	Buf []byte // the caller's buffer; Buf[:N] is the frame
	N   int
	// Truncated: the frame was longer than Buf and its end was lost.
	Truncated bool
	// VLAN: the frame carried an 802.1Q tag with a VLAN ID, which the
	// NIC removed before the frame was read (Linux reports it apart).
	VLAN bool
	// ChecksumPending: the sender left the UDP checksum to its NIC
	// (Linux: a frame from a veth peer or from this host), so the field
	// holds only a partial sum.
	ChecksumPending bool
}

// Decode is Parse for a frame as it was read.
func Decode(f RawFrame) (Datagram, Refusal) {
	switch {
	case f.Truncated:
		return Datagram{}, RefusedTruncated
	case f.VLAN:
		return Datagram{}, RefusedVLAN
	}
	return Parse(f.Buf[:f.N], !f.ChecksumPending)
}

// bpfAlignment is BPF_ALIGNMENT on macOS: records in a read buffer start
// on 4-byte boundaries.
const bpfAlignment = 4

// bpfMinHeader is the part of macOS's struct bpf_hdr read here: a 32-bit
// timeval (8 bytes), bh_caplen, bh_datalen (4 each), bh_hdrlen (2).
const bpfMinHeader = 18

var errBPFRecord = errors.New("linklayer: malformed BPF read buffer")

// nextBPFRecord splits the first record off a buffer read from a macOS BPF
// device: the captured frame, whether the capture is shorter than the frame
// was, and the rest of the buffer. An empty buffer returns no frame and no
// error. Records are in the host's byte order.
func nextBPFRecord(buf []byte) (frame []byte, truncated bool, rest []byte, err error) {
	if len(buf) == 0 {
		return nil, false, nil, nil
	}
	if len(buf) < bpfMinHeader {
		return nil, false, nil, errBPFRecord
	}
	caplen := int(binary.NativeEndian.Uint32(buf[8:12]))
	datalen := int(binary.NativeEndian.Uint32(buf[12:16]))
	hdrlen := int(binary.NativeEndian.Uint16(buf[16:18]))
	if hdrlen < bpfMinHeader || caplen > len(buf)-hdrlen {
		return nil, false, nil, errBPFRecord
	}
	frame = buf[hdrlen : hdrlen+caplen]
	next := (hdrlen + caplen + bpfAlignment - 1) &^ (bpfAlignment - 1)
	if next > len(buf) {
		next = len(buf) // the last record needs no padding
	}
	return frame, datalen > caplen, buf[next:], nil
}
