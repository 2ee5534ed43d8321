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
}

// outgoing is one datagram to send.
type outgoing struct {
	data []byte
	dst  *net.UDPAddr
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
