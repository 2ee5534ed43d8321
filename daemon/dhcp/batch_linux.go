package dhcp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsgConn reads with recvmmsg and writes with sendmmsg on the socket's
// non-blocking descriptor, waiting for readiness in Go's poller.
//
// The calls are made with RawSyscall: they never block (MSG_DONTWAIT on a
// non-blocking socket), and the ordinary Syscall path tells the Go runtime
// that a thread may block, which wakes its monitor thread. At a few
// hundred packets a second, each arriving to an idle process, those
// wake-ups were about a third of pixie's CPU time per answer.
type mmsgConn struct {
	rc syscall.RawConn

	rhdrs  []mmsghdr
	riovs  []unix.Iovec
	rnames []unix.RawSockaddrInet4

	whdrs  []mmsghdr
	wiovs  []unix.Iovec
	wnames []unix.RawSockaddrInet4
}

// mmsghdr is struct mmsghdr: Go lays it out as C does on every Linux
// architecture (msghdr, then an unsigned int, padded to msghdr's
// alignment).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

// newBatchConn wraps conn. ifindex is unused on Linux: SO_BINDTODEVICE
// already filters what the socket receives.
func newBatchConn(conn *net.UDPConn, ifindex int) (batchConn, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &mmsgConn{rc: rc}, nil
}

func (c *mmsgConn) read(pkts []datagram) (int, error) {
	if len(c.rhdrs) != len(pkts) {
		c.rhdrs = make([]mmsghdr, len(pkts))
		c.riovs = make([]unix.Iovec, len(pkts))
		c.rnames = make([]unix.RawSockaddrInet4, len(pkts))
	}
	for i := range pkts {
		c.riovs[i].Base = &pkts[i].buf[0]
		c.riovs[i].SetLen(len(pkts[i].buf))
		h := &c.rhdrs[i].hdr
		*h = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&c.rnames[i])), Namelen: unix.SizeofSockaddrInet4, Iov: &c.riovs[i]}
		h.SetIovlen(1)
	}
	var n int
	var errno syscall.Errno
	err := c.rc.Read(func(fd uintptr) bool {
		r, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&c.rhdrs[0])), uintptr(len(pkts)), unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EAGAIN || e == unix.EINTR {
			return false // wait until readable
		}
		n, errno = int(r), e
		return true
	})
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, fmt.Errorf("recvmmsg: %w", errno)
	}
	k := 0
	for i := range n {
		name := &c.rnames[i]
		if c.rhdrs[i].hdr.Namelen < unix.SizeofSockaddrInet4 || name.Family != unix.AF_INET {
			continue // an IPv4 socket: cannot happen, but never trust a length
		}
		pkts[k].buf, pkts[i].buf = pkts[i].buf, pkts[k].buf
		pkts[k].n = int(c.rhdrs[i].len)
		pkts[k].truncated = c.rhdrs[i].hdr.Flags&unix.MSG_TRUNC != 0
		pkts[k].src = &net.UDPAddr{
			IP:   net.IPv4(name.Addr[0], name.Addr[1], name.Addr[2], name.Addr[3]),
			Port: int(binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&name.Port))[:])),
		}
		k++
	}
	return k, nil
}

func (c *mmsgConn) write(out []outgoing) (int, error) {
	if len(c.whdrs) < len(out) {
		c.whdrs = make([]mmsghdr, len(out))
		c.wiovs = make([]unix.Iovec, len(out))
		c.wnames = make([]unix.RawSockaddrInet4, len(out))
	}
	// Headers for the datagrams up to the first that cannot be sent; those
	// go, then the caller hears about that one.
	var bad error
	for i, o := range out {
		ip4 := o.dst.IP.To4()
		if ip4 == nil || len(o.data) == 0 {
			bad = fmt.Errorf("cannot send %d bytes to %v: not an IPv4 destination", len(o.data), o.dst)
			out = out[:i]
			break
		}
		name := &c.wnames[i]
		*name = unix.RawSockaddrInet4{Family: unix.AF_INET}
		copy(name.Addr[:], ip4)
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&name.Port))[:], uint16(o.dst.Port))
		c.wiovs[i].Base = &o.data[0]
		c.wiovs[i].SetLen(len(o.data))
		h := &c.whdrs[i].hdr
		*h = unix.Msghdr{Name: (*byte)(unsafe.Pointer(name)), Namelen: unix.SizeofSockaddrInet4, Iov: &c.wiovs[i]}
		h.SetIovlen(1)
	}
	sent := 0
	for sent < len(out) {
		var n int
		var errno syscall.Errno
		err := c.rc.Write(func(fd uintptr) bool {
			r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&c.whdrs[sent])), uintptr(len(out)-sent), unix.MSG_DONTWAIT, 0, 0)
			if e == unix.EAGAIN || e == unix.EINTR {
				return false // send buffer full: wait until writable
			}
			n, errno = int(r), e
			return true
		})
		if err != nil {
			return sent, err
		}
		if errno != 0 {
			// sendmmsg reports an error only when the first datagram
			// failed; the caller skips it and goes on.
			return sent, fmt.Errorf("sendmmsg: %w", errno)
		}
		if n <= 0 {
			return sent, errors.New("sendmmsg sent nothing") // never loop on it
		}
		sent += n
	}
	return sent, bad
}
