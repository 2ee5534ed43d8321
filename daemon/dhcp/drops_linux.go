package dhcp

import (
	"encoding/binary"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// socketDrops returns how many datagrams the kernel dropped on conn's full
// receive buffer (SO_MEMINFO's SK_MEMINFO_DROPS).
func socketDrops(conn *net.UDPConn) (uint64, bool) {
	const skMeminfoDrops = 8
	rc, err := conn.SyscallConn()
	if err != nil {
		return 0, false
	}
	var buf [16 * 4]byte
	size := uint32(len(buf))
	var errno unix.Errno
	err = rc.Control(func(fd uintptr) {
		_, _, errno = unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
			uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&size)), 0)
	})
	if err != nil || errno != 0 || size < (skMeminfoDrops+1)*4 {
		return 0, false
	}
	return uint64(binary.NativeEndian.Uint32(buf[skMeminfoDrops*4:])), true
}
