package linklayer

import (
	"encoding/binary"
	"encoding/hex"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var (
	serverMAC = net.HardwareAddr{0x52, 0x54, 0x00, 0x00, 0x00, 0x02}
	clientMAC = net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
)

// goldenFrame is a proxy reply as built by Append, its checksums checked
// with an independent implementation (and by a Linux kernel: see the namespace test in daemon/dhcp):
// 10.77.0.2:67 -> 255.255.255.255:68, payload "pixie".
const goldenFrame = "ffffffffffff" + "525400000002" + "0800" +
	"4500" + "0021" + "0000" + "0000" + "4011" + "707e" + "0a4d0002" + "ffffffff" +
	"0043" + "0044" + "000d" + "a72b" + "7069786965"

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAppendGolden(t *testing.T) {
	got, err := Append(nil, Header{
		SrcMAC: serverMAC, DstMAC: BroadcastMAC,
		Src: netip.MustParseAddrPort("10.77.0.2:67"), Dst: netip.MustParseAddrPort("255.255.255.255:68"),
	}, []byte("pixie"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(goldenFrame, hex.EncodeToString(got)); diff != "" {
		t.Errorf("frame (-want +got):\n%s", diff)
	}
	if checksum(0, got[14:34]) != 0 {
		t.Errorf("IPv4 header checksum does not verify")
	}
}

func TestAppendErrors(t *testing.T) {
	ok := Header{SrcMAC: serverMAC, DstMAC: clientMAC,
		Src: netip.MustParseAddrPort("10.0.0.2:67"), Dst: netip.MustParseAddrPort("10.0.0.9:68")}
	for name, tc := range map[string]struct {
		h       Header
		payload []byte
	}{
		"short MAC":     {Header{SrcMAC: serverMAC[:4], DstMAC: clientMAC, Src: ok.Src, Dst: ok.Dst}, []byte("x")},
		"IPv6":          {Header{SrcMAC: serverMAC, DstMAC: clientMAC, Src: netip.MustParseAddrPort("[fd00::2]:67"), Dst: ok.Dst}, []byte("x")},
		"zero address":  {Header{SrcMAC: serverMAC, DstMAC: clientMAC, Dst: ok.Dst}, []byte("x")},
		"empty payload": {ok, nil},
		"too large":     {ok, make([]byte, 65536)},
	} {
		buf := []byte("keep")
		got, err := Append(buf, tc.h, tc.payload)
		if err == nil {
			t.Errorf("%s: no error", name)
		}
		if string(got) != "keep" {
			t.Errorf("%s: buffer changed to %q", name, got)
		}
	}
}

// frameOpts builds test frames by editing a good one.
type frameOpts struct {
	vlan       bool
	ipOptions  []byte // appended to the IPv4 header (multiple of 4)
	pad        int    // Ethernet padding after the packet
	edit       func(f []byte, ip, udp int)
	fixIPSum   bool // recompute the IPv4 checksum after edit
	noUDPSum   bool
	srcIP      string
	payloadLen int
}

func buildFrame(t testing.TB, o frameOpts) []byte {
	t.Helper()
	src := "0.0.0.0:68"
	if o.srcIP != "" {
		src = o.srcIP
	}
	payload := []byte("DHCPDISCOVER payload")
	if o.payloadLen > 0 {
		payload = make([]byte, o.payloadLen)
		for i := range payload {
			payload[i] = byte(i)
		}
	}
	f, err := Append(nil, Header{SrcMAC: clientMAC, DstMAC: BroadcastMAC,
		Src: netip.MustParseAddrPort(src), Dst: netip.MustParseAddrPort("255.255.255.255:67")}, payload)
	if err != nil {
		t.Fatal(err)
	}
	ip := 14
	if len(o.ipOptions) > 0 {
		// Re-lay the IPv4 header with options, fixing lengths and sum.
		hdr := append(append([]byte{}, f[ip:ip+20]...), o.ipOptions...)
		hdr[0] = 0x40 | byte(len(hdr)/4)
		binary.BigEndian.PutUint16(hdr[2:], uint16(len(f)-ip+len(o.ipOptions)))
		rest := append([]byte{}, f[ip+20:]...)
		f = append(append(f[:ip:ip], hdr...), rest...)
		o.fixIPSum = true
	}
	ihl := int(f[ip]&0x0f) * 4
	if o.noUDPSum {
		binary.BigEndian.PutUint16(f[ip+ihl+6:], 0)
	}
	if o.edit != nil {
		o.edit(f, ip, ip+ihl)
	}
	if o.fixIPSum {
		binary.BigEndian.PutUint16(f[ip+10:], 0)
		binary.BigEndian.PutUint16(f[ip+10:], checksum(0, f[ip:ip+ihl]))
	}
	if o.vlan {
		tagged := append(append([]byte{}, f[:12]...), 0x81, 0x00, 0x00, 0x64)
		f = append(tagged, f[12:]...)
	}
	return append(f, make([]byte, o.pad)...)
}

func TestParse(t *testing.T) {
	want := func(src string) Datagram {
		return Datagram{SrcMAC: clientMAC, DstMAC: BroadcastMAC,
			Src: netip.MustParseAddrPort(src), Dst: netip.MustParseAddrPort("255.255.255.255:67"),
			Payload: []byte("DHCPDISCOVER payload")}
	}
	tests := []struct {
		name      string
		frame     []byte
		noVerify  bool
		want      Datagram
		wantRefus Refusal
	}{
		{name: "plain", frame: buildFrame(t, frameOpts{}), want: want("0.0.0.0:68")},
		{name: "from an address", frame: buildFrame(t, frameOpts{srcIP: "10.77.0.50:68"}), want: want("10.77.0.50:68")},
		{name: "Ethernet padding", frame: buildFrame(t, frameOpts{pad: 18}), want: want("0.0.0.0:68")},
		{name: "IPv4 options skipped", frame: buildFrame(t, frameOpts{ipOptions: []byte{0x94, 0x04, 0, 0}}), want: want("0.0.0.0:68")},
		{name: "no UDP checksum", frame: buildFrame(t, frameOpts{noUDPSum: true}), want: want("0.0.0.0:68")},
		{name: "odd payload", frame: buildFrame(t, frameOpts{payloadLen: 301}), want: Datagram{SrcMAC: clientMAC, DstMAC: BroadcastMAC,
			Src: netip.MustParseAddrPort("0.0.0.0:68"), Dst: netip.MustParseAddrPort("255.255.255.255:67"),
			Payload: buildFrame(t, frameOpts{payloadLen: 301})[42:]}},
		{name: "partial UDP checksum not verified", noVerify: true, want: want("0.0.0.0:68"),
			frame: buildFrame(t, frameOpts{edit: func(f []byte, _, udp int) { f[udp+6] ^= 0x5a }})},

		{name: "VLAN tag", frame: buildFrame(t, frameOpts{vlan: true}), wantRefus: RefusedVLAN},
		{name: "QinQ tag", frame: append(append(buildFrame(t, frameOpts{})[:12:12], 0x88, 0xa8, 0, 1), buildFrame(t, frameOpts{})[12:]...), wantRefus: RefusedVLAN},
		{name: "ARP", frame: buildFrame(t, frameOpts{edit: func(f []byte, _, _ int) { f[12], f[13] = 0x08, 0x06 }}), wantRefus: RefusedNotIPv4},
		{name: "IPv6 ethertype", frame: buildFrame(t, frameOpts{edit: func(f []byte, _, _ int) { f[12], f[13] = 0x86, 0xdd }}), wantRefus: RefusedNotIPv4},
		{name: "IP version 6 in an IPv4 frame", frame: buildFrame(t, frameOpts{fixIPSum: true, edit: func(f []byte, ip, _ int) { f[ip] = 0x65 }}), wantRefus: RefusedNotIPv4},
		{name: "empty", frame: nil, wantRefus: RefusedShort},
		{name: "Ethernet header only", frame: buildFrame(t, frameOpts{})[:14], wantRefus: RefusedShort},
		{name: "cut inside the IPv4 header", frame: buildFrame(t, frameOpts{})[:30], wantRefus: RefusedShort},
		{name: "cut inside the payload", frame: buildFrame(t, frameOpts{})[:50], wantRefus: RefusedShort},
		{name: "IHL below 5", frame: buildFrame(t, frameOpts{fixIPSum: true, edit: func(f []byte, ip, _ int) { f[ip] = 0x44 }}), wantRefus: RefusedBadHeader},
		{name: "total length below IHL", frame: buildFrame(t, frameOpts{fixIPSum: true, edit: func(f []byte, ip, _ int) { binary.BigEndian.PutUint16(f[ip+2:], 16) }}), wantRefus: RefusedBadHeader},
		{name: "IP checksum wrong", frame: buildFrame(t, frameOpts{edit: func(f []byte, ip, _ int) { f[ip+8] = 1 }}), wantRefus: RefusedIPChecksum},
		{name: "more fragments", frame: buildFrame(t, frameOpts{fixIPSum: true, edit: func(f []byte, ip, _ int) { f[ip+6] = 0x20 }}), wantRefus: RefusedFragment},
		{name: "later fragment", frame: buildFrame(t, frameOpts{fixIPSum: true, edit: func(f []byte, ip, _ int) { f[ip+7] = 0x10 }}), wantRefus: RefusedFragment},
		{name: "don't-fragment is fine", want: want("0.0.0.0:68"),
			frame: buildFrame(t, frameOpts{fixIPSum: true, edit: func(f []byte, ip, _ int) { f[ip+6] = 0x40 }})},
		{name: "TCP", frame: buildFrame(t, frameOpts{fixIPSum: true, edit: func(f []byte, ip, _ int) { f[ip+9] = 6 }}), wantRefus: RefusedNotUDP},
		{name: "UDP length below 8", frame: buildFrame(t, frameOpts{edit: func(f []byte, _, udp int) { binary.BigEndian.PutUint16(f[udp+4:], 7) }}), wantRefus: RefusedBadHeader},
		{name: "UDP length past the packet", frame: buildFrame(t, frameOpts{edit: func(f []byte, _, udp int) { binary.BigEndian.PutUint16(f[udp+4:], 900) }}), wantRefus: RefusedBadHeader},
		{name: "UDP checksum wrong", frame: buildFrame(t, frameOpts{edit: func(f []byte, _, udp int) { f[udp+6] ^= 0x5a }}), wantRefus: RefusedUDPChecksum},
		{name: "payload changed", frame: buildFrame(t, frameOpts{edit: func(f []byte, _, udp int) { f[udp+8] ^= 1 }}), wantRefus: RefusedUDPChecksum},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, why := Parse(tc.frame, !tc.noVerify)
			if why != tc.wantRefus {
				t.Fatalf("refusal = %q, want %q", why, tc.wantRefus)
			}
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
				t.Errorf("datagram (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	good := buildFrame(t, frameOpts{})
	badSum := buildFrame(t, frameOpts{edit: func(f []byte, _, udp int) { f[udp+6] ^= 1 }})
	for _, tc := range []struct {
		name string
		f    RawFrame
		want Refusal
	}{
		{"good", RawFrame{Buf: good, N: len(good)}, Accepted},
		{"truncated", RawFrame{Buf: good, N: len(good), Truncated: true}, RefusedTruncated},
		{"tag stripped by the NIC", RawFrame{Buf: good, N: len(good), VLAN: true}, RefusedVLAN},
		{"partial checksum, verified", RawFrame{Buf: badSum, N: len(badSum)}, RefusedUDPChecksum},
		{"partial checksum, pending", RawFrame{Buf: badSum, N: len(badSum), ChecksumPending: true}, Accepted},
		{"N shorter than the buffer", RawFrame{Buf: append(append([]byte{}, good...), 0xde, 0xad), N: len(good)}, Accepted},
	} {
		if _, got := Decode(tc.f); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, n := range []int{1, 2, 3, 240, 300, 547, 548, 1472} {
		payload := make([]byte, n)
		for i := range payload {
			payload[i] = byte(i*7 + n)
		}
		h := Header{SrcMAC: serverMAC, DstMAC: clientMAC,
			Src: netip.MustParseAddrPort("192.168.1.2:4011"), Dst: netip.MustParseAddrPort("192.168.1.77:4011")}
		f, err := Append(make([]byte, 0, 64), h, payload)
		if err != nil {
			t.Fatal(err)
		}
		if len(f) != HeadersLen+n {
			t.Errorf("%d bytes: frame is %d bytes, want %d", n, len(f), HeadersLen+n)
		}
		d, why := Parse(f, true)
		if why != Accepted {
			t.Fatalf("%d bytes: refused %q", n, why)
		}
		if d.Src != h.Src || d.Dst != h.Dst || string(d.SrcMAC) != string(h.SrcMAC) || string(d.DstMAC) != string(h.DstMAC) || string(d.Payload) != string(payload) {
			t.Errorf("%d bytes: parsed %+v", n, d)
		}
	}
}

func TestChecksumZeroIsSentAsOnes(t *testing.T) {
	// Find a payload whose UDP checksum computes to 0: it must go out as
	// 0xffff, since 0 means "none".
	h := Header{SrcMAC: serverMAC, DstMAC: clientMAC,
		Src: netip.MustParseAddrPort("10.0.0.2:67"), Dst: netip.MustParseAddrPort("10.0.0.9:68")}
	for v := range 0x10000 {
		payload := []byte{byte(v >> 8), byte(v)}
		f, err := Append(nil, h, payload)
		if err != nil {
			t.Fatal(err)
		}
		if binary.BigEndian.Uint16(f[40:42]) == 0xffff {
			if _, why := Parse(f, true); why != Accepted {
				t.Fatalf("a 0xffff checksum is refused: %q", why)
			}
			return
		}
		if binary.BigEndian.Uint16(f[40:42]) == 0 {
			t.Fatalf("payload %x: UDP checksum sent as 0", payload)
		}
	}
	t.Fatal("no payload gave a checksum of 0xffff")
}
