// Package linklayer reads and writes UDP datagrams as raw Ethernet frames,
// for a proxyDHCP server that cannot bind UDP port 67 because another
// program holds it: AF_PACKET on Linux, a BPF device on macOS. One pure
// frame parser and builder (Ethernet, IPv4 with its header checksum, UDP
// with its checksum) serves both, so what the macOS shell does to a frame is
// tested here.
package linklayer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// Frame layout constants.
const (
	etherHeaderLen = 14
	vlanTagLen     = 4
	ipv4MinHeader  = 20
	udpHeaderLen   = 8

	etherTypeIPv4 = 0x0800
	etherTypeVLAN = 0x8100 // IEEE 802.1Q
	etherTypeQinQ = 0x88a8 // IEEE 802.1ad

	protoUDP = 17

	// HeadersLen is the size of the headers Append writes before the
	// payload: Ethernet, an IPv4 header without options, UDP.
	HeadersLen = etherHeaderLen + ipv4MinHeader + udpHeaderLen
)

// BroadcastMAC is the Ethernet broadcast address.
var BroadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// Refusal says why a frame was not taken as a UDP datagram. The zero value
// means it was. The values are short constants so that a caller can name
// counters after them without building strings per frame.
type Refusal string

// Why frames are refused.
const (
	Accepted Refusal = ""
	// RefusedShort: the frame ends before its headers say it does.
	RefusedShort Refusal = "short"
	// RefusedTruncated: the frame was longer than the read buffer.
	RefusedTruncated Refusal = "truncated"
	// RefusedNotIPv4: not an IPv4 packet (ARP, IPv6, ...).
	RefusedNotIPv4 Refusal = "not-ipv4"
	// RefusedVLAN: an 802.1Q/802.1ad tagged frame. pixie serves the
	// interface it is bound to; a VLAN is served by running on its own
	// interface (eth0.100), where its frames arrive untagged.
	RefusedVLAN Refusal = "vlan-tagged"
	// RefusedBadHeader: an IPv4 or UDP length field that contradicts
	// the packet.
	RefusedBadHeader Refusal = "bad-header"
	// RefusedIPChecksum: the IPv4 header checksum does not match.
	RefusedIPChecksum Refusal = "ip-checksum"
	// RefusedFragment: one fragment of a larger datagram. DHCP requests
	// fit one frame; reassembly is left to the kernel's own sockets.
	RefusedFragment Refusal = "fragment"
	// RefusedNotUDP: an IPv4 packet of another protocol.
	RefusedNotUDP Refusal = "not-udp"
	// RefusedUDPChecksum: the UDP checksum does not match.
	RefusedUDPChecksum Refusal = "udp-checksum"
)

// Refusals lists every refusal, for callers that register counters.
var Refusals = []Refusal{RefusedShort, RefusedTruncated, RefusedNotIPv4, RefusedVLAN, RefusedBadHeader,
	RefusedIPChecksum, RefusedFragment, RefusedNotUDP, RefusedUDPChecksum}

// Datagram is a UDP datagram taken out of a frame. Its slices alias the
// frame.
type Datagram struct {
	SrcMAC, DstMAC net.HardwareAddr
	Src, Dst       netip.AddrPort
	Payload        []byte
}

// Parse takes the UDP datagram out of an Ethernet frame. IPv4 options are
// skipped; VLAN tags and fragments are refused. The UDP checksum is checked
// when it is present (not zero) and verifyUDP is set: a frame whose checksum
// the sending host left to the NIC (Linux reports it, see RawFrame) carries
// only a partial sum and must not be checked.
func Parse(frame []byte, verifyUDP bool) (Datagram, Refusal) {
	if len(frame) < etherHeaderLen {
		return Datagram{}, RefusedShort
	}
	switch binary.BigEndian.Uint16(frame[12:14]) {
	case etherTypeIPv4:
	case etherTypeVLAN, etherTypeQinQ:
		return Datagram{}, RefusedVLAN
	default:
		return Datagram{}, RefusedNotIPv4
	}
	d := Datagram{SrcMAC: frame[6:12], DstMAC: frame[0:6]}
	ip := frame[etherHeaderLen:]
	if len(ip) < ipv4MinHeader {
		return Datagram{}, RefusedShort
	}
	if ip[0]>>4 != 4 {
		return Datagram{}, RefusedNotIPv4
	}
	ihl := int(ip[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(ip[2:4]))
	if ihl < ipv4MinHeader || total < ihl {
		return Datagram{}, RefusedBadHeader
	}
	if len(ip) < total {
		return Datagram{}, RefusedShort
	}
	// Ethernet pads short frames to 60 bytes: the IP length is the truth.
	ip = ip[:total]
	if checksum(0, ip[:ihl]) != 0 {
		return Datagram{}, RefusedIPChecksum
	}
	if frag := binary.BigEndian.Uint16(ip[6:8]); frag&0x2000 != 0 || frag&0x1fff != 0 {
		return Datagram{}, RefusedFragment
	}
	if ip[9] != protoUDP {
		return Datagram{}, RefusedNotUDP
	}
	udp := ip[ihl:]
	if len(udp) < udpHeaderLen {
		return Datagram{}, RefusedShort
	}
	ulen := int(binary.BigEndian.Uint16(udp[4:6]))
	if ulen < udpHeaderLen || ulen > len(udp) {
		return Datagram{}, RefusedBadHeader
	}
	udp = udp[:ulen]
	src, dst := netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20]))
	if verifyUDP && binary.BigEndian.Uint16(udp[6:8]) != 0 {
		if checksum(pseudoHeaderSum(src, dst, ulen), udp) != 0 {
			return Datagram{}, RefusedUDPChecksum
		}
	}
	d.Src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(udp[0:2]))
	d.Dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(udp[2:4]))
	d.Payload = udp[udpHeaderLen:]
	return d, Accepted
}

// Header is what Append writes around a payload.
type Header struct {
	SrcMAC, DstMAC net.HardwareAddr
	Src, Dst       netip.AddrPort
}

// maxPayload keeps the IPv4 total length within 16 bits.
const maxPayload = 0xffff - ipv4MinHeader - udpHeaderLen

// Append appends an Ethernet frame carrying payload as one UDP datagram in
// one unfragmented IPv4 packet, both checksums filled in, to buf.
func Append(buf []byte, h Header, payload []byte) ([]byte, error) {
	if len(h.SrcMAC) != 6 || len(h.DstMAC) != 6 {
		return buf, fmt.Errorf("linklayer: Ethernet addresses must be 6 bytes (source %v, destination %v)", h.SrcMAC, h.DstMAC)
	}
	if !h.Src.Addr().Is4() || !h.Dst.Addr().Is4() {
		return buf, fmt.Errorf("linklayer: %v -> %v: not IPv4 addresses", h.Src, h.Dst)
	}
	if len(payload) > maxPayload {
		return buf, fmt.Errorf("linklayer: a %d-byte payload does not fit one IPv4 packet", len(payload))
	}
	if len(payload) == 0 {
		return buf, errors.New("linklayer: empty payload")
	}
	buf = append(buf, h.DstMAC...)
	buf = append(buf, h.SrcMAC...)
	buf = binary.BigEndian.AppendUint16(buf, etherTypeIPv4)

	ipStart := len(buf)
	total := ipv4MinHeader + udpHeaderLen + len(payload)
	src, dst := h.Src.Addr().As4(), h.Dst.Addr().As4()
	buf = append(buf,
		0x45, 0, // version 4, 20-byte header; no DSCP
		byte(total>>8), byte(total),
		0, 0, // identification: the packet is never fragmented
		0, 0, // no flags, offset 0
		64, protoUDP,
		0, 0, // checksum, below
	)
	buf = append(buf, src[:]...)
	buf = append(buf, dst[:]...)
	binary.BigEndian.PutUint16(buf[ipStart+10:], checksum(0, buf[ipStart:ipStart+ipv4MinHeader]))

	udpStart := len(buf)
	ulen := udpHeaderLen + len(payload)
	buf = binary.BigEndian.AppendUint16(buf, h.Src.Port())
	buf = binary.BigEndian.AppendUint16(buf, h.Dst.Port())
	buf = binary.BigEndian.AppendUint16(buf, uint16(ulen))
	buf = append(buf, 0, 0)
	buf = append(buf, payload...)
	sum := checksum(pseudoHeaderSum(h.Src.Addr(), h.Dst.Addr(), ulen), buf[udpStart:])
	if sum == 0 {
		sum = 0xffff // zero means "no checksum" in UDP over IPv4
	}
	binary.BigEndian.PutUint16(buf[udpStart+6:], sum)
	return buf, nil
}

// pseudoHeaderSum is the unfolded one's-complement sum of UDP's IPv4
// pseudo-header.
func pseudoHeaderSum(src, dst netip.Addr, udpLen int) uint32 {
	s, d := src.As4(), dst.As4()
	sum := uint32(binary.BigEndian.Uint16(s[0:2])) + uint32(binary.BigEndian.Uint16(s[2:4])) +
		uint32(binary.BigEndian.Uint16(d[0:2])) + uint32(binary.BigEndian.Uint16(d[2:4]))
	return sum + protoUDP + uint32(udpLen)
}

// checksum folds the one's-complement sum of b into initial and returns
// its complement: 0 over data that includes a correct checksum field.
func checksum(initial uint32, b []byte) uint16 {
	sum := initial
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
