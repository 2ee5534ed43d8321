package linklayer

import (
	"bytes"
	"testing"
)

// FuzzParse feeds arbitrary frames to Parse: it must never panic, never
// hand out a payload outside the frame, and what it accepts must build back
// into a frame that parses to the same datagram. `make test` runs the seeds
// only; `go test -fuzz FuzzParse ./daemon/linklayer` explores.
func FuzzParse(f *testing.F) {
	f.Add(buildFrame(f, frameOpts{}), true)
	f.Add(buildFrame(f, frameOpts{vlan: true}), true)
	f.Add(buildFrame(f, frameOpts{ipOptions: []byte{0x94, 4, 0, 0}}), true)
	f.Add(buildFrame(f, frameOpts{pad: 12}), false)
	f.Add(buildFrame(f, frameOpts{noUDPSum: true}), true)
	f.Add(buildFrame(f, frameOpts{fixIPSum: true, edit: func(b []byte, ip, _ int) { b[ip+6] = 0x20 }}), true)
	f.Add(buildFrame(f, frameOpts{payloadLen: 548}), true)
	f.Add([]byte{}, true)
	f.Fuzz(func(t *testing.T, frame []byte, verify bool) {
		d, why := Parse(frame, verify)
		if why != Accepted {
			if d.Payload != nil || d.Src.IsValid() {
				t.Fatalf("refused (%q) but returned %+v", why, d)
			}
			return
		}
		if len(d.Payload) > len(frame) || (len(d.Payload) > 0 && !bytes.Contains(frame, d.Payload)) {
			t.Fatalf("payload is not inside the frame")
		}
		if len(d.Payload) == 0 || !d.Src.Addr().Is4() {
			return // Append refuses an empty payload
		}
		again, err := Append(nil, Header{SrcMAC: d.SrcMAC, DstMAC: d.DstMAC, Src: d.Src, Dst: d.Dst}, d.Payload)
		if err != nil {
			t.Fatalf("accepted datagram does not rebuild: %v", err)
		}
		d2, why := Parse(again, true)
		if why != Accepted {
			t.Fatalf("rebuilt frame refused: %q", why)
		}
		if d2.Src != d.Src || d2.Dst != d.Dst || !bytes.Equal(d2.Payload, d.Payload) ||
			!bytes.Equal(d2.SrcMAC, d.SrcMAC) || !bytes.Equal(d2.DstMAC, d.DstMAC) {
			t.Fatalf("round trip: %+v != %+v", d2, d)
		}
	})
}

// FuzzBPFRecords walks arbitrary BPF read buffers: no panic, every frame
// inside the buffer, and the walk always ends.
func FuzzBPFRecords(f *testing.F) {
	a := buildFrame(f, frameOpts{})
	f.Add(append(bpfRecord(a, len(a)), bpfRecord(a[:30], len(a))...))
	f.Add(bpfRecord(nil, 0))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, buf []byte) {
		for rest, i := buf, 0; len(rest) > 0; i++ {
			if i > len(buf) {
				t.Fatal("the walk does not end")
			}
			frame, _, next, err := nextBPFRecord(rest)
			if err != nil {
				return
			}
			if len(next) >= len(rest) {
				t.Fatalf("no progress: %d -> %d bytes", len(rest), len(next))
			}
			if len(frame) > len(rest) {
				t.Fatal("frame outside the buffer")
			}
			rest = next
		}
	})
}
