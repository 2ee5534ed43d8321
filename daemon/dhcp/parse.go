package dhcp

import (
	"bytes"
	"net"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// parsed holds a parsed packet with the storage its fields point into, so
// that a packet costs three allocations (this, its options and the
// options map) rather than one per field and option.
type parsed struct {
	p      dhcpv4.DHCPv4
	addrs  [4][4]byte
	chaddr [16]byte
}

// parsePacket parses a DHCPv4 packet as dhcpv4.FromBytes does, with the
// same result. A packet whose options run past its end, or that lacks
// the End option, is left to the library, which decides how to treat it;
// those are rare, and only a well-formed packet takes the fast path.
func parsePacket(q []byte) (*dhcpv4.DHCPv4, error) {
	const header = 236 // op … file, before the magic cookie
	if len(q) < header+4 || !bytes.Equal(q[header:header+4], []byte{99, 130, 83, 99}) {
		return dhcpv4.FromBytes(q)
	}
	// Find the options first: any oddity goes to the library. A packet has
	// a few dozen at most; more than fit here go to the library too.
	opts := q[header+4:]
	var spans [64]optionSpan
	count, end := 0, false
	for i := 0; i < len(opts) && !end; {
		switch code := opts[i]; {
		case code == 0:
			i++
		case code == 255:
			end = true
		case i+1 >= len(opts) || i+2+int(opts[i+1]) > len(opts) || count == len(spans):
			return dhcpv4.FromBytes(q)
		default:
			spans[count] = optionSpan{code: code, start: i + 2, end: i + 2 + int(opts[i+1])}
			count++
			i = spans[count-1].end
		}
	}
	if !end {
		return dhcpv4.FromBytes(q)
	}

	pp := new(parsed)
	p := &pp.p
	p.OpCode = dhcpv4.OpcodeType(q[0])
	p.HWType = iana.HWType(q[1])
	hlen := min(int(q[2]), 16)
	p.HopCount = q[3]
	copy(p.TransactionID[:], q[4:8])
	p.NumSeconds = uint16(q[8])<<8 | uint16(q[9])
	p.Flags = uint16(q[10])<<8 | uint16(q[11])
	for i := range pp.addrs {
		copy(pp.addrs[i][:], q[12+4*i:])
	}
	p.ClientIPAddr = net.IP(pp.addrs[0][:])
	p.YourIPAddr = net.IP(pp.addrs[1][:])
	p.ServerIPAddr = net.IP(pp.addrs[2][:])
	p.GatewayIPAddr = net.IP(pp.addrs[3][:])
	copy(pp.chaddr[:], q[28:44])
	p.ClientHWAddr = net.HardwareAddr(pp.chaddr[:hlen])
	p.ServerHostName = cString(q[44:108])
	p.BootFileName = cString(q[108:236])

	// One copy of the options area; each value is a full slice of it (its
	// capacity ends where it does), so appending to one can never write
	// over the next.
	own := bytes.Clone(opts)
	p.Options = make(dhcpv4.Options, count)
	for _, sp := range spans[:count] {
		v := own[sp.start:sp.end:sp.end]
		if prev, ok := p.Options[sp.code]; ok {
			// RFC 3396: repeated instances are one value, concatenated.
			v = append(prev[:len(prev):len(prev)], v...)
		} else if len(v) == 0 {
			v = nil // as the library: present, with a nil value
		}
		p.Options[sp.code] = v
	}
	return p, nil
}

// optionSpan is where one option's value lies in the options area.
type optionSpan struct {
	code       uint8
	start, end int
}

// cString is a fixed-size field's text up to its first NUL.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
