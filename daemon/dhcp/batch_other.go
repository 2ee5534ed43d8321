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
	conn    *net.UDPConn
	pc      *ipv4.PacketConn
	msgs    []ipv4.Message
	ifindex int
}

// newBatchConn wraps conn. When ifindex is set, datagrams whose control
// message names another arrival interface are marked dropped (see
// fromOtherInterface).
func newBatchConn(conn *net.UDPConn, ifindex int) (batchConn, error) {
	c := &portableConn{conn: conn, pc: ipv4.NewPacketConn(conn), ifindex: ifindex}
	if ifindex != 0 {
		if err := c.pc.SetControlMessage(ipv4.FlagInterface, true); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *portableConn) read(pkts []datagram) (int, error) {
	if len(c.msgs) != len(pkts) {
		c.msgs = make([]ipv4.Message, len(pkts))
		for i := range c.msgs {
			if c.ifindex != 0 {
				c.msgs[i].OOB = ipv4.NewControlMessage(ipv4.FlagInterface)
			}
		}
	}
	for i := range pkts {
		c.msgs[i].Buffers = [][]byte{pkts[i].buf}
		c.msgs[i].OOB = c.msgs[i].OOB[:cap(c.msgs[i].OOB)]
	}
	n, err := c.pc.ReadBatch(c.msgs, 0)
	if err != nil {
		return 0, err
	}
	k := 0
	for i, m := range c.msgs[:n] {
		src, ok := m.Addr.(*net.UDPAddr)
		if !ok {
			continue
		}
		// The datagram is in pkts[i].buf: move it to slot k.
		pkts[k].buf, pkts[i].buf = pkts[i].buf, pkts[k].buf
		pkts[k].n, pkts[k].src = m.N, src
		pkts[k].truncated = m.Flags&syscall.MSG_TRUNC != 0
		pkts[k].drop = ""
		if fromOtherInterface(m.OOB[:m.NN], c.ifindex) {
			pkts[k].drop = "dhcp.dropped.other-interface"
		}
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
