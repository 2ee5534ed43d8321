//go:build !linux

package dhcp

import (
	"net"
	"syscall"

	"golang.org/x/net/ipv4"
)

// portableConn uses x/net's batch calls, which read one datagram per call
// outside Linux.
type portableConn struct {
	conn *net.UDPConn
	pc   *ipv4.PacketConn
	msgs []ipv4.Message
}

func newBatchConn(conn *net.UDPConn) (batchConn, error) {
	return &portableConn{conn: conn, pc: ipv4.NewPacketConn(conn)}, nil
}

func (c *portableConn) read(pkts []datagram) (int, error) {
	if len(c.msgs) != len(pkts) {
		c.msgs = make([]ipv4.Message, len(pkts))
	}
	for i := range pkts {
		c.msgs[i].Buffers = [][]byte{pkts[i].buf}
	}
	n, err := c.pc.ReadBatch(c.msgs, 0)
	if err != nil {
		return 0, err
	}
	k := 0
	for _, m := range c.msgs[:n] {
		src, ok := m.Addr.(*net.UDPAddr)
		if !ok {
			continue
		}
		pkts[k].n, pkts[k].src = m.N, src
		pkts[k].truncated = m.Flags&syscall.MSG_TRUNC != 0
		k++
	}
	return k, nil
}

func (c *portableConn) write(out []outgoing) (int, error) {
	for i, o := range out {
		if _, err := c.conn.WriteToUDP(o.data, o.dst); err != nil {
			return i, err
		}
	}
	return len(out), nil
}
