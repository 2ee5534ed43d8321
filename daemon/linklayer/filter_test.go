package linklayer

import (
	"encoding/binary"
	"testing"

	"golang.org/x/net/bpf"
)

func runFilter(t *testing.T, ports []uint16, frame []byte) int {
	t.Helper()
	raw, err := Filter(ports...)
	if err != nil {
		t.Fatal(err)
	}
	prog, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatalf("filter does not disassemble: %v", prog)
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatalf("filter rejected by the BPF VM: %v", err)
	}
	n, err := vm.Run(frame)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestFilter(t *testing.T) {
	toPort := func(port uint16) func(f []byte, ip, udp int) {
		return func(f []byte, _, udp int) { binary.BigEndian.PutUint16(f[udp+2:], port) }
	}
	dhcp := []uint16{67}
	both := []uint16{67, 4011}
	tests := []struct {
		name   string
		ports  []uint16
		frame  []byte
		accept bool
	}{
		{"DISCOVER to 67", dhcp, buildFrame(t, frameOpts{}), true},
		{"to 67 with IPv4 options", dhcp, buildFrame(t, frameOpts{ipOptions: []byte{1, 1, 1, 0}}), true},
		{"to 4011, filter for 67", dhcp, buildFrame(t, frameOpts{edit: toPort(4011)}), false},
		{"to 4011, filter for both", both, buildFrame(t, frameOpts{edit: toPort(4011)}), true},
		{"to 67, filter for both", both, buildFrame(t, frameOpts{}), true},
		{"to 68 (another server's reply)", both, buildFrame(t, frameOpts{edit: toPort(68)}), false},
		{"to 69 (TFTP)", dhcp, buildFrame(t, frameOpts{edit: toPort(69)}), false},
		{"802.1Q tagged to 67: copied up to be counted", dhcp, buildFrame(t, frameOpts{vlan: true}), true},
		{"802.1Q tagged to 68", dhcp, buildFrame(t, frameOpts{vlan: true, edit: toPort(68)}), false},
		{"first fragment to 67: copied up to be counted", dhcp, buildFrame(t, frameOpts{fixIPSum: true, edit: func(f []byte, ip, _ int) { f[ip+6] = 0x20 }}), true},
		{"later fragment", dhcp, buildFrame(t, frameOpts{fixIPSum: true, edit: func(f []byte, ip, _ int) { f[ip+7] = 1 }}), false},
		{"TCP to 67", dhcp, buildFrame(t, frameOpts{fixIPSum: true, edit: func(f []byte, ip, _ int) { f[ip+9] = 6 }}), false},
		{"ARP", dhcp, buildFrame(t, frameOpts{edit: func(f []byte, _, _ int) { f[12], f[13] = 0x08, 0x06 }}), false},
		{"IPv6", dhcp, buildFrame(t, frameOpts{edit: func(f []byte, _, _ int) { f[12], f[13] = 0x86, 0xdd }}), false},
		{"send-only socket", nil, buildFrame(t, frameOpts{}), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := runFilter(t, tc.ports, tc.frame)
			if got := n > 0; got != tc.accept {
				t.Errorf("accepted %d bytes, want accept=%v", n, tc.accept)
			}
			if n > 0 && n < len(tc.frame) {
				t.Errorf("accepted %d of %d bytes: frames must be copied whole", n, len(tc.frame))
			}
		})
	}
}

func TestFilterTooManyPorts(t *testing.T) {
	if _, err := Filter(1, 2, 3, 4, 5, 6, 7, 8, 9); err == nil {
		t.Error("a filter for 9 ports was built")
	}
}

// bpfRecord lays out one macOS bpf_hdr record (little-endian, as on both
// Macs pixie runs on) with hdrlen 18, padded to 4 bytes.
func bpfRecord(frame []byte, datalen int) []byte {
	rec := make([]byte, 18, 18+len(frame)+3)
	binary.NativeEndian.PutUint32(rec[8:], uint32(len(frame)))
	binary.NativeEndian.PutUint32(rec[12:], uint32(datalen))
	binary.NativeEndian.PutUint16(rec[16:], 18)
	rec = append(rec, frame...)
	for len(rec)%4 != 0 {
		rec = append(rec, 0)
	}
	return rec
}

func TestNextBPFRecord(t *testing.T) {
	a, b := buildFrame(t, frameOpts{}), buildFrame(t, frameOpts{payloadLen: 301})
	buf := append(append(bpfRecord(a, len(a)), bpfRecord(b, len(b)+100)...), bpfRecord(a[:20], len(a))...)
	type rec struct {
		n         int
		truncated bool
	}
	var got []rec
	for rest := buf; len(rest) > 0; {
		frame, truncated, next, err := nextBPFRecord(rest)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rec{len(frame), truncated})
		rest = next
	}
	want := []rec{{len(a), false}, {len(b), true}, {20, true}}
	if len(got) != len(want) {
		t.Fatalf("records %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d: %v, want %v", i, got[i], want[i])
		}
	}

	bad := bpfRecord(a, len(a))
	for name, b := range map[string][]byte{
		"header cut":       bad[:10],
		"caplen past end":  bad[:40],
		"hdrlen too small": func() []byte { c := append([]byte{}, bad...); binary.NativeEndian.PutUint16(c[16:], 4); return c }(),
	} {
		if _, _, _, err := nextBPFRecord(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if f, _, rest, err := nextBPFRecord(nil); f != nil || rest != nil || err != nil {
		t.Errorf("empty buffer: %v %v %v", f, rest, err)
	}
}
