package dhcp

import (
	"net"
)

// datagram is one datagram read from a socket.
type datagram struct {
	buf       []byte // readBuf bytes; buf[:n] is the datagram
	n         int
	src       *net.UDPAddr
	truncated bool // longer than buf: the rest was discarded
	// drop, when set, is the counter of a datagram the connection refused
	// before it could be decided on (a malformed frame, a packet from
	// another interface); buf[:n] is then not a DHCP packet.
	drop string
	// hw is the sender's Ethernet address when the connection sees it
	// (link layer), in mac's storage.
	hw  []byte
	mac [6]byte
}

// outgoing is one datagram to send.
type outgoing struct {
	data []byte
	dst  *net.UDPAddr
	// hw is the Ethernet address the request came from, for a reply sent
	// over the link layer to a unicast destination; nil otherwise.
	hw []byte
}

// batchConn reads and writes several datagrams per system call where the
// system can (Linux: recvmmsg and sendmmsg), one otherwise. One goroutine
// reads and writes a batchConn.
type batchConn interface {
	// read fills pkts[:n] with the next datagrams, blocking until at least
	// one arrives.
	read(pkts []datagram) (n int, err error)
	// write sends out in order. It returns how many were sent; when that is
	// less than len(out), err is why out[sent] could not be sent, and the
	// caller may call write again with the rest.
	write(out []outgoing) (sent int, err error)
}

// newDatagrams allocates a read batch of n buffers of maxPacket bytes.
func newDatagrams(n int) []datagram {
	pkts := make([]datagram, n)
	for i := range pkts {
		pkts[i].buf = make([]byte, maxPacket)
	}
	return pkts
}
