package tftp

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// transferConn is one transfer's socket: bound to the address the request
// came to and connected to the client, so the kernel drops packets from
// any other address or port (RFC 1350's transfer ID check) and reports a
// closed client port. recv returns errWait when its slice of the timeout
// passed without a packet.
type transferConn interface {
	send(p []byte) error
	recv(p []byte) (int, error)
	close() error
}

// udpConn is a transfer socket in blocking mode with a receive timeout.
//
// A lock-step transfer waits for one ACK per block, and through Go's
// netpoller each wait is a failed read, a park, an epoll wake-up and a
// second read, with the scheduler in between. A blocking read is one
// system call that returns when the ACK arrives, which is what in.tftpd
// does. The goroutine holds its thread while it waits; the runtime hands
// the thread's processor to other goroutines meanwhile. That hand-off is
// what makes it costly with many transfers at once: see Server.handle.
type udpConn struct{ fd int }

// errWait is a receive that ended with no packet after the socket's
// timeout slice.
var errWait = errors.New("no packet yet")

// dialBlocking opens a transfer socket from local (any address when nil)
// to remote. A receive waits at most slice.
func dialBlocking(local net.IP, remote *net.UDPAddr, slice time.Duration) (*udpConn, error) {
	r4 := remote.IP.To4()
	if r4 == nil {
		return nil, fmt.Errorf("client address %s is not IPv4", remote.IP)
	}
	// The fork lock keeps a child started meanwhile from inheriting the
	// descriptor before it is marked close-on-exec (macOS has no
	// SOCK_CLOEXEC).
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_UDP)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("transfer socket: %w", err)
	}
	c := &udpConn{fd: fd}
	fail := func(what string, err error) (*udpConn, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("transfer socket: %s: %w", what, err)
	}
	if l4 := local.To4(); l4 != nil {
		sa := &unix.SockaddrInet4{}
		copy(sa.Addr[:], l4)
		if err := unix.Bind(fd, sa); err != nil {
			return fail("bind "+local.String(), err)
		}
	}
	sa := &unix.SockaddrInet4{Port: remote.Port}
	copy(sa.Addr[:], r4)
	if err := unix.Connect(fd, sa); err != nil {
		return fail("connect "+remote.String(), err)
	}
	tv := unix.NsecToTimeval(slice.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fail("receive timeout", err)
	}
	return c, nil
}

// send writes one datagram.
func (c *udpConn) send(p []byte) error {
	for {
		_, err := unix.Write(c.fd, p)
		if err != unix.EINTR {
			return err
		}
	}
}

// recv reads one datagram into p, or returns errWait after the timeout
// slice. ECONNREFUSED means the client's port is closed (an ICMP error).
func (c *udpConn) recv(p []byte) (int, error) {
	for {
		n, err := unix.Read(c.fd, p)
		switch err {
		case nil:
			return n, nil
		case unix.EINTR:
			// A signal (the Go runtime sends some) interrupts a read
			// with SO_RCVTIMEO even under SA_RESTART.
			continue
		case unix.EAGAIN:
			return 0, errWait
		default:
			return 0, err
		}
	}
}

func (c *udpConn) close() error { return unix.Close(c.fd) }
