package dhcp

import (
	"net"

	"golang.org/x/sys/unix"
)

// growReadBuffer asks for a receive buffer of size bytes. Run as root,
// SO_RCVBUFFORCE passes net.core.rmem_max (about 200 KB by default, a few
// milliseconds of a boot storm); without the privilege the ordinary
// request is capped at that maximum. Best effort either way.
func growReadBuffer(conn *net.UDPConn, size int) {
	raw, err := conn.SyscallConn()
	if err == nil {
		var serr error
		err = raw.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size)
		})
		if err == nil && serr == nil {
			return
		}
	}
	_ = conn.SetReadBuffer(size)
}
