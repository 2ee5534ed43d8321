package tftp

import (
	"fmt"
	"net"
	"time"

	"golang.org/x/net/ipv4"
)

// incoming is one datagram on the server port.
type incoming struct {
	n    int
	from *net.UDPAddr
	// local is the address to answer from: the one the request was
	// sent to (nil: let the kernel choose).
	local net.IP
	// mtuBlksize is the largest block that fits the interface the
	// request came in on (0: unknown).
	mtuBlksize int
	// release, when set, is called once the transfer's packets are done.
	release func()
}

// listener reads requests from the server socket with the control
// messages that say which address and interface they came to.
type listener struct {
	conn  net.PacketConn
	pc    *ipv4.PacketConn // nil: no control messages on this conn
	bound net.IP           // the socket's own address, when specific

	// Interface MTUs by index, looked up at most every mtuTTL: a
	// lookup asks the kernel for every interface. Only read touches it.
	mtus map[int]mtuEntry
}

type mtuEntry struct {
	mtu  int
	seen time.Time
}

const mtuTTL = 30 * time.Second

// ipUDPTFTPHeaders is what a DATA packet adds to its block on the wire.
const ipUDPTFTPHeaders = 20 + 8 + 4

func newListener(conn net.PacketConn) *listener {
	l := &listener{conn: conn, mtus: map[int]mtuEntry{}}
	if ua, ok := conn.LocalAddr().(*net.UDPAddr); ok && !ua.IP.IsUnspecified() {
		l.bound = ua.IP
	}
	if uc, ok := conn.(*net.UDPConn); ok {
		pc := ipv4.NewPacketConn(uc)
		if pc.SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true) == nil {
			l.pc = pc
		}
	}
	return l
}

// read waits for the next datagram. A datagram longer than buf is cut
// short (requests fit in maxRequestLength; a longer one is malformed).
func (l *listener) read(buf []byte) (incoming, error) {
	var (
		in   incoming
		from net.Addr
		err  error
		cm   *ipv4.ControlMessage
	)
	if l.pc != nil {
		in.n, cm, from, err = l.pc.ReadFrom(buf)
	} else {
		in.n, from, err = l.conn.ReadFrom(buf)
	}
	if err != nil {
		return in, err
	}
	ua, ok := from.(*net.UDPAddr)
	if !ok {
		return in, fmt.Errorf("datagram from %v, not a UDP address", from)
	}
	in.from = ua
	in.local = l.bound
	if cm != nil {
		// A request to a broadcast address cannot be answered from it
		// (a subnet's broadcast address fails at bind: see handle).
		if d := cm.Dst.To4(); d != nil && !d.IsUnspecified() && !d.Equal(net.IPv4bcast) && !d.IsMulticast() {
			in.local = d
		}
		in.mtuBlksize = l.mtuBlksize(cm.IfIndex)
	}
	return in, nil
}

func (l *listener) mtuBlksize(ifIndex int) int {
	if ifIndex <= 0 {
		return 0
	}
	e, ok := l.mtus[ifIndex]
	if !ok || time.Since(e.seen) > mtuTTL {
		ifc, err := net.InterfaceByIndex(ifIndex)
		if err != nil {
			return 0
		}
		if len(l.mtus) > 256 {
			clear(l.mtus) // interfaces come and go; never grow without end
		}
		e = mtuEntry{mtu: ifc.MTU, seen: time.Now()}
		l.mtus[ifIndex] = e
	}
	if e.mtu <= ipUDPTFTPHeaders {
		return 0
	}
	return e.mtu - ipUDPTFTPHeaders
}
