package dhcp

import (
	"errors"
	"fmt"
	"net/netip"
)

// Pool is the range of addresses full-DHCP mode hands out: First..Last
// inclusive, inside Subnet, never pixie's own address.
type Pool struct {
	Subnet netip.Prefix
	First  netip.Addr
	Last   netip.Addr
	// Server is pixie's own address, skipped even when it falls inside
	// First..Last.
	Server netip.Addr
}

// MaxPoolSize bounds a pool, and with it the lease table: every lease
// holds an address of the pool, so the table can never grow past this
// whatever a flood of new MACs does.
const MaxPoolSize = 65536

// defaultPoolCap is the largest pool derived from an interface subnet.
// A /16 link gets a 1023-address pool (the top 1024-block), not 32767: nobody netboots that
// many machines from one laptop, and a smaller table scans faster when
// the pool is full.
const defaultPoolCap = 1024

// DefaultPool derives the pool from the interface's own address and
// prefix: the upper half of the subnet's host addresses, at most
// defaultPoolCap of them, less pixie's address. The lower half is left to
// routers, static hosts and reservations (which must lie outside the pool),
// since that is where they conventionally sit. A link too small to split
// (a /30 or /31, the point-to-point cable) gets every host address but
// pixie's.
func DefaultPool(iface netip.Prefix) (Pool, error) {
	server := iface.Addr()
	if !server.Is4() {
		return Pool{}, fmt.Errorf("interface address %v is not IPv4: full DHCP mode needs an IPv4 address on the interface", iface)
	}
	subnet := iface.Masked()
	if subnet.Bits() > 31 {
		return Pool{}, fmt.Errorf("interface address %v is a single-address (/32) network: there is no address to hand out; give the interface a wider prefix, or use --dhcp-range", iface)
	}
	lo, hi := hostRange(subnet)
	p := Pool{Subnet: subnet, Server: server}
	n := span(lo, hi)
	if n >= 4 {
		first := addN(lo, n/2)
		if span(first, hi) > defaultPoolCap {
			// The top 1024-block, less its broadcast address: the
			// pool starts on a round number.
			first = addN(hi, 2-defaultPoolCap)
		}
		p.First, p.Last = first, hi
		if p.trim().Size() > 0 {
			return p.trim(), nil
		}
	}
	p.First, p.Last = lo, hi
	p = p.trim()
	if p.Size() == 0 {
		return Pool{}, fmt.Errorf("network %v has no address to hand out besides pixie's own %v", subnet, server)
	}
	return p, nil
}

// RangePool is the pool of `--dhcp-range FROM-TO`: both ends inside the
// interface's subnet, FROM <= TO, at most MaxPoolSize addresses.
func RangePool(iface netip.Prefix, from, to netip.Addr) (Pool, error) {
	subnet := iface.Masked()
	if !from.Is4() || !to.Is4() {
		return Pool{}, errors.New("the DHCP range must be two IPv4 addresses, FROM-TO")
	}
	if !subnet.Contains(from) || !subnet.Contains(to) {
		return Pool{}, fmt.Errorf("the DHCP range %v-%v is not inside the interface's network %v: pick addresses of that network", from, to, subnet)
	}
	if to.Less(from) {
		return Pool{}, fmt.Errorf("the DHCP range %v-%v ends before it starts: write the lower address first", from, to)
	}
	if span(from, to) > MaxPoolSize {
		return Pool{}, fmt.Errorf("the DHCP range %v-%v has %d addresses; pixie hands out at most %d", from, to, span(from, to), MaxPoolSize)
	}
	if lo, hi := hostRange(subnet); subnet.Bits() < 31 && (from.Less(lo) || hi.Less(to)) {
		return Pool{}, fmt.Errorf("the DHCP range %v-%v includes the network or broadcast address of %v: use %v-%v at most", from, to, subnet, lo, hi)
	}
	p := Pool{Subnet: subnet, First: from, Last: to, Server: iface.Addr()}
	if p.Size() == 0 {
		return Pool{}, fmt.Errorf("the DHCP range %v-%v holds only pixie's own address: widen it", from, to)
	}
	return p, nil
}

// trim moves an end of the pool that is pixie's own address inward.
func (p Pool) trim() Pool {
	if p.First == p.Server && p.First != p.Last {
		p.First = addN(p.First, 1)
	}
	if p.Last == p.Server && p.First != p.Last {
		p.Last = addN(p.Last, -1)
	}
	return p
}

// Contains reports whether a is an address the pool hands out.
func (p Pool) Contains(a netip.Addr) bool {
	return p.First.IsValid() && a.Is4() && !a.Less(p.First) && !p.Last.Less(a) && a != p.Server
}

// Size is how many addresses the pool hands out.
func (p Pool) Size() int {
	if !p.First.IsValid() {
		return 0
	}
	n := span(p.First, p.Last)
	if p.Server.IsValid() && !p.Server.Less(p.First) && !p.Last.Less(p.Server) {
		n--
	}
	return n
}

// String is "10.0.0.128-10.0.0.254".
func (p Pool) String() string {
	if !p.First.IsValid() {
		return ""
	}
	return p.First.String() + "-" + p.Last.String()
}

// Mask is the subnet mask clients are told (option 1).
func (p Pool) Mask() []byte {
	b := p.Subnet.Bits()
	m := uint32(0xffffffff) << (32 - b)
	if b == 0 {
		m = 0
	}
	return []byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}
}

// hostRange is the first and last host address of an IPv4 subnet; a /31
// has no network or broadcast address (RFC 3021).
func hostRange(subnet netip.Prefix) (netip.Addr, netip.Addr) {
	lo := subnet.Masked().Addr()
	hi := addN(lo, 1<<(32-subnet.Bits())-1)
	if subnet.Bits() >= 31 {
		return lo, hi
	}
	return addN(lo, 1), addN(hi, -1)
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func fromU32(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func addN(a netip.Addr, n int) netip.Addr { return fromU32(uint32(int64(u32(a)) + int64(n))) }

// span is how many addresses lo..hi holds, inclusive.
func span(lo, hi netip.Addr) int { return int(u32(hi)-u32(lo)) + 1 }
