package dhcp

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/pixie-boot/pixie/daemon/linklayer"
)

// linkSocket is a link-layer socket (*linklayer.Conn, or a fake in tests).
type linkSocket interface {
	Read(frames []linklayer.RawFrame) (int, error)
	Write(frame []byte) error
	HardwareAddr() net.HardwareAddr
	Close() error
}

// linkConn is the batchConn of a service answered over the link layer: it
// takes the DHCP payload out of each frame read and wraps each reply in a
// frame from the server's address and the service's port.
type linkConn struct {
	sock   linkSocket
	src    netip.AddrPort
	frames []linklayer.RawFrame
	wbuf   []byte
}

// maxFrame is the largest frame sent: a 1500-byte IPv4 MTU and the
// Ethernet header. A DHCP reply is a few hundred bytes.
const maxFrame = 1514

func newLinkConn(sock linkSocket, src netip.AddrPort) *linkConn {
	return &linkConn{sock: sock, src: src, wbuf: make([]byte, 0, maxFrame)}
}

func (c *linkConn) read(pkts []datagram) (int, error) {
	if len(c.frames) != len(pkts) {
		c.frames = make([]linklayer.RawFrame, len(pkts))
	}
	for i := range pkts {
		c.frames[i] = linklayer.RawFrame{Buf: pkts[i].buf}
	}
	n, err := c.sock.Read(c.frames)
	// The socket may have reordered the buffers it was lent.
	for i := range pkts {
		pkts[i].buf = c.frames[i].Buf
	}
	if err != nil {
		return 0, err
	}
	for i := range n {
		p := &pkts[i]
		p.truncated, p.drop, p.hw, p.src = false, "", nil, nil
		d, why := linklayer.Decode(c.frames[i])
		if why != linklayer.Accepted {
			p.n, p.drop = 0, frameDropCounter(why)
			if f := c.frames[i]; f.N >= 12 {
				copy(p.mac[:], f.Buf[6:12])
				p.hw = p.mac[:]
			}
			continue
		}
		// The payload is copied over the headers in the same buffer:
		// the MAC goes first.
		copy(p.mac[:], d.SrcMAC)
		p.hw = p.mac[:]
		p.src = &net.UDPAddr{IP: d.Src.Addr().AsSlice(), Port: int(d.Src.Port())}
		p.n = copy(p.buf, d.Payload)
	}
	return n, nil
}

func (c *linkConn) write(out []outgoing) (int, error) {
	for i, o := range out {
		frame, err := c.frame(o)
		if err == nil {
			err = c.sock.Write(frame)
		}
		if err != nil {
			return i, err
		}
	}
	return len(out), nil
}

// frame wraps o for the wire. A broadcast goes to every station; a unicast
// reply to the station the request came from (the client, or the relay
// agent that forwarded it), else to the client hardware address in the
// reply itself.
func (c *linkConn) frame(o outgoing) ([]byte, error) {
	ip, ok := netip.AddrFromSlice(o.dst.IP)
	if !ok {
		return nil, fmt.Errorf("cannot send to %v over the link layer: not an IPv4 address", o.dst)
	}
	ip = ip.Unmap()
	var dst net.HardwareAddr
	switch {
	case ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		dst = linklayer.BroadcastMAC
	case len(o.hw) == 6:
		dst = o.hw
	default:
		dst = replyCHAddr(o.data)
		if dst == nil {
			return nil, fmt.Errorf("cannot send to %v over the link layer: no hardware address to send to", o.dst)
		}
	}
	frame, err := linklayer.Append(c.wbuf[:0], linklayer.Header{
		SrcMAC: c.sock.HardwareAddr(), DstMAC: dst,
		Src: c.src, Dst: netip.AddrPortFrom(ip, uint16(o.dst.Port)),
	}, o.data)
	if err != nil {
		return nil, err
	}
	if len(frame) > maxFrame {
		return nil, fmt.Errorf("a %d-byte reply does not fit one Ethernet frame", len(o.data))
	}
	c.wbuf = frame[:0]
	return frame, nil
}

// replyCHAddr is the Ethernet client address in an encoded DHCP packet.
func replyCHAddr(pkt []byte) net.HardwareAddr {
	const htype, hlen, chaddr = 1, 2, 28
	if len(pkt) < chaddr+6 || pkt[htype] != 1 || pkt[hlen] != 6 {
		return nil
	}
	return net.HardwareAddr(pkt[chaddr : chaddr+6])
}

// frameDropCounter names the counter of frames refused for why: constants,
// so the read path builds no string.
func frameDropCounter(why linklayer.Refusal) string {
	switch why {
	case linklayer.RefusedShort:
		return "dhcp.dropped.frame-short"
	case linklayer.RefusedTruncated:
		return "dhcp.dropped.too-large"
	case linklayer.RefusedNotIPv4:
		return "dhcp.dropped.frame-not-ipv4"
	case linklayer.RefusedVLAN:
		return "dhcp.dropped.frame-vlan-tagged"
	case linklayer.RefusedBadHeader:
		return "dhcp.dropped.frame-bad-header"
	case linklayer.RefusedIPChecksum:
		return "dhcp.dropped.frame-ip-checksum"
	case linklayer.RefusedFragment:
		return "dhcp.dropped.frame-fragment"
	case linklayer.RefusedNotUDP:
		return "dhcp.dropped.frame-not-udp"
	case linklayer.RefusedUDPChecksum:
		return "dhcp.dropped.frame-udp-checksum"
	}
	return "dhcp.dropped.frame-" + string(why)
}
