package netif

import (
	"net"
	"os"
	"syscall"
	"time"
)

// DefaultRouteInterface returns the interface of the IPv4 default route,
// asked of the kernel over a routing socket (RTM_GET), or "" when there is
// none or the question fails. macOS has no /proc/net/route; without this a
// MacBook's Wi-Fi (en0, the lowest index) won over a USB or Thunderbolt
// Ethernet adapter carrying the default route.
func DefaultRouteInterface() string {
	fd, err := syscall.Socket(syscall.AF_ROUTE, syscall.SOCK_RAW, syscall.AF_UNSPEC)
	if err != nil {
		return ""
	}
	defer syscall.Close(fd)
	tv := syscall.NsecToTimeval(int64(time.Second))
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return ""
	}
	pid, seq := int32(os.Getpid()), int32(time.Now().UnixNano()&0x7fffffff)
	if _, err := syscall.Write(fd, routeGetDefault(seq, pid)); err != nil {
		return "" // ESRCH: no default route
	}
	buf := make([]byte, 2048)
	// Other processes' route changes arrive on the same socket: read a
	// bounded number of messages, each within the receive timeout.
	for range 32 {
		n, err := syscall.Read(fd, buf)
		if err != nil || n <= 0 {
			return ""
		}
		idx, err := parseRouteReply(buf[:n], seq, pid)
		if err == errNotOurs {
			continue
		}
		if err != nil {
			return ""
		}
		ifc, err := net.InterfaceByIndex(idx)
		if err != nil {
			return ""
		}
		return ifc.Name
	}
	return ""
}
