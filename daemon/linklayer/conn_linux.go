package linklayer

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Conn is an AF_PACKET socket on one interface. One goroutine reads it;
// writes may come from another.
type Conn struct {
	f       *os.File
	rc      syscall.RawConn
	closed  atomic.Bool
	ifindex int
	mac     net.HardwareAddr

	hdrs  []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrLinklayer
	oob   []byte
}

// mmsghdr is struct mmsghdr (see daemon/dhcp's twin: msghdr, then an
// unsigned int, padded as C pads it on every Linux architecture).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

// sizeofAuxdata is sizeof(struct tpacket_auxdata).
const sizeofAuxdata = int(unsafe.Sizeof(unix.TpacketAuxdata{}))

// oobLen is the control buffer per frame: one tpacket_auxdata message.
var oobLen = unix.CmsgSpace(sizeofAuxdata)

// Open opens a link-layer socket on interface ifname that receives the
// frames Filter(ports...) accepts, none before the filter is in place.
// With no ports it only sends. It needs CAP_NET_RAW. The socket is created
// in the calling thread's network namespace.
func Open(ifname string, ports ...uint16) (*Conn, error) {
	ifc, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("link-layer socket on %q: %w", ifname, err)
	}
	if len(ifc.HardwareAddr) != 6 {
		return nil, fmt.Errorf("link-layer socket on %s: not an Ethernet interface (hardware address %q)", ifname, ifc.HardwareAddr)
	}
	prog, err := Filter(ports...)
	if err != nil {
		return nil, err
	}
	// Protocol 0: the socket receives nothing until bind names one, so no
	// frame is queued before the filter is attached.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("link-layer socket on %s: %w (pixie needs root or CAP_NET_RAW)", ifname, os.NewSyscallError("socket", err))
	}
	fail := func(what string, err error) (*Conn, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("link-layer socket on %s: %w", ifname, os.NewSyscallError(what, err))
	}
	filter := make([]unix.SockFilter, len(prog))
	for i, ins := range prog {
		filter[i] = unix.SockFilter{Code: ins.Op, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
		&unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}); err != nil {
		return fail("setsockopt SO_ATTACH_FILTER", err)
	}
	proto := uint16(0)
	if len(ports) > 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
			return fail("setsockopt PACKET_AUXDATA", err)
		}
		// Our own replies are not requests; kernels before 4.20 lack
		// the option and Read skips outgoing frames itself.
		_ = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
		// A boot storm fills the default buffer first (as on the UDP
		// sockets); best effort.
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20) != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
		}
		// ETH_P_ALL, not ETH_P_IP: frames with an 802.1Q tag in them
		// reach only ETH_P_ALL sockets, and are counted when refused.
		proto = htons(unix.ETH_P_ALL)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifc.Index}); err != nil {
		return fail("bind", err)
	}
	f := os.NewFile(uintptr(fd), "packet:"+ifname)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Conn{f: f, rc: rc, ifindex: ifc.Index, mac: ifc.HardwareAddr}, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// HardwareAddr is the interface's Ethernet address, the source of every
// frame written.
func (c *Conn) HardwareAddr() net.HardwareAddr { return c.mac }

// Close closes the socket; a blocked Read returns an error wrapping
// os.ErrClosed.
func (c *Conn) Close() error {
	c.closed.Store(true)
	return c.f.Close()
}

// rcErr turns the poller's error on a closed descriptor, which is not
// os.ErrClosed, into net.ErrClosed, as a network socket's would be.
func (c *Conn) rcErr(err error) error {
	if c.closed.Load() {
		return fmt.Errorf("link-layer socket: %w", net.ErrClosed)
	}
	return err
}

// Read fills frames[:n] with the next frames sent to this host (unicast to
// its address, or broadcast), blocking until at least one arrives. Each
// frame's Buf must be set.
func (c *Conn) Read(frames []RawFrame) (int, error) {
	if len(c.hdrs) != len(frames) {
		c.hdrs = make([]mmsghdr, len(frames))
		c.iovs = make([]unix.Iovec, len(frames))
		c.names = make([]unix.RawSockaddrLinklayer, len(frames))
		c.oob = make([]byte, len(frames)*oobLen)
	}
	for {
		for i := range frames {
			c.iovs[i].Base = &frames[i].Buf[0]
			c.iovs[i].SetLen(len(frames[i].Buf))
			h := &c.hdrs[i].hdr
			*h = unix.Msghdr{
				Name: (*byte)(unsafe.Pointer(&c.names[i])), Namelen: unix.SizeofSockaddrLinklayer,
				Iov: &c.iovs[i], Control: &c.oob[i*oobLen],
			}
			h.SetIovlen(1)
			h.SetControllen(oobLen)
		}
		var n int
		var errno syscall.Errno
		err := c.rc.Read(func(fd uintptr) bool {
			r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&c.hdrs[0])), uintptr(len(frames)), unix.MSG_DONTWAIT, 0, 0)
			if e == unix.EAGAIN || e == unix.EINTR {
				return false
			}
			n, errno = int(r), e
			return true
		})
		if err != nil {
			return 0, c.rcErr(err)
		}
		if errno != 0 {
			return 0, fmt.Errorf("recvmmsg on packet socket: %w", errno)
		}
		k := 0
		for i := range n {
			switch c.names[i].Pkttype {
			case unix.PACKET_HOST, unix.PACKET_BROADCAST:
			default: // our own, or another host's seen in promiscuous mode
				continue
			}
			h := &c.hdrs[i].hdr
			frames[k].Buf, frames[i].Buf = frames[i].Buf, frames[k].Buf
			frames[k].N = int(c.hdrs[i].len)
			frames[k].Truncated = h.Flags&unix.MSG_TRUNC != 0
			aux := auxdata(c.oob[i*oobLen : i*oobLen+int(h.Controllen)])
			frames[k].VLAN = aux.Status&unix.TP_STATUS_VLAN_VALID != 0 && aux.Vlan_tci&0x0fff != 0
			frames[k].ChecksumPending = aux.Status&unix.TP_STATUS_CSUMNOTREADY != 0
			k++
		}
		if k > 0 {
			return k, nil
		}
	}
}

// auxdata finds the tpacket_auxdata in a frame's control messages; the
// zero value when there is none.
func auxdata(oob []byte) unix.TpacketAuxdata {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		if int(h.Len) < unix.SizeofCmsghdr || int(h.Len) > len(oob) {
			break
		}
		if h.Level == unix.SOL_PACKET && h.Type == unix.PACKET_AUXDATA && int(h.Len) >= unix.CmsgLen(sizeofAuxdata) {
			var a unix.TpacketAuxdata
			copy((*[sizeofAuxdata]byte)(unsafe.Pointer(&a))[:], oob[unix.CmsgLen(0):])
			return a
		}
		oob = oob[min(unix.CmsgSpace(int(h.Len)-unix.CmsgLen(0)), len(oob)):]
	}
	return unix.TpacketAuxdata{}
}

// Write sends one frame as it is; its first six bytes are the destination.
func (c *Conn) Write(frame []byte) error {
	if len(frame) < etherHeaderLen {
		return fmt.Errorf("linklayer: a %d-byte frame has no Ethernet header", len(frame))
	}
	to := &unix.SockaddrLinklayer{
		Protocol: htons(binary.BigEndian.Uint16(frame[12:14])),
		Ifindex:  c.ifindex,
		Halen:    6,
	}
	copy(to.Addr[:], frame[:6])
	var serr error
	err := c.rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), frame, 0, to)
		return serr != unix.EAGAIN && serr != unix.EINTR
	})
	if err != nil {
		return c.rcErr(err)
	}
	if serr != nil {
		return os.NewSyscallError("sendto on packet socket", serr)
	}
	return nil
}
