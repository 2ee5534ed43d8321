package dhcp

import (
	"encoding/binary"
	"net"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// appendPacket appends p's wire form to dst and returns the result. It
// writes the same bytes as p.ToBytes() (options in code order, option 82
// last, long values split per RFC 3396, padded to BOOTP's 300 bytes) into
// a buffer the caller reuses: the library's encoder allocates about a
// kilobyte per reply in small pieces, which under a boot storm was a tenth
// of the garbage collector's work.
func appendPacket(dst []byte, p *dhcpv4.DHCPv4) []byte {
	start := len(dst)
	dst = append(dst, byte(p.OpCode), byte(p.HWType), byte(len(p.ClientHWAddr)), p.HopCount)
	dst = append(dst, p.TransactionID[:]...)
	dst = binary.BigEndian.AppendUint16(dst, p.NumSeconds)
	dst = binary.BigEndian.AppendUint16(dst, p.Flags)
	for _, ip := range []net.IP{p.ClientIPAddr, p.YourIPAddr, p.ServerIPAddr, p.GatewayIPAddr} {
		dst = appendIPv4(dst, ip)
	}
	dst = appendField(dst, p.ClientHWAddr, 16, 16)
	dst = appendField(dst, []byte(p.ServerHostName), 64, 63)
	dst = appendField(dst, []byte(p.BootFileName), 128, 127)
	dst = append(dst, 99, 130, 83, 99) // the magic cookie

	// Codes in order without a sort's allocation: a set of 256 bits.
	var present [4]uint64
	for code := range p.Options {
		present[code/64] |= 1 << (code % 64)
	}
	const agentInfo, end, pad = 82, 255, 0
	for code := 1; code < 255; code++ {
		if code == agentInfo || present[code/64]&(1<<(code%64)) == 0 {
			continue
		}
		dst = appendOption(dst, uint8(code), p.Options[uint8(code)])
	}
	if present[agentInfo/64]&(1<<(agentInfo%64)) != 0 {
		dst = appendOption(dst, agentInfo, p.Options[agentInfo])
	}
	dst = append(dst, end)
	for len(dst)-start < 300 {
		dst = append(dst, pad)
	}
	return dst
}

// appendIPv4 writes ip's four bytes, or zeros when it has none (as the
// library does).
func appendIPv4(dst []byte, ip net.IP) []byte {
	if v4 := ip.To4(); v4 != nil {
		return append(dst, v4...)
	}
	return append(dst, 0, 0, 0, 0)
}

// appendField writes a fixed-size field: up to keep bytes of v, then
// zeros to size.
func appendField(dst, v []byte, size, keep int) []byte {
	if len(v) > keep {
		v = v[:keep]
	}
	dst = append(dst, v...)
	for range size - len(v) {
		dst = append(dst, 0)
	}
	return dst
}

// appendOption writes one option; a value over 255 bytes is split into
// several instances of the option (RFC 3396).
func appendOption(dst []byte, code uint8, v []byte) []byte {
	if len(v) == 0 {
		return append(dst, code, 0)
	}
	for len(v) > 0 {
		n := min(len(v), 255)
		dst = append(dst, code, byte(n))
		dst = append(dst, v[:n]...)
		v = v[n:]
	}
	return dst
}
