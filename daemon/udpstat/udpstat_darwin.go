package udpstat

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// FullSocketDrops is the host's count of UDP datagrams dropped on full
// socket buffers (udps_fullsock), false if the sysctl cannot be read.
func FullSocketDrops() (uint64, bool) {
	b, err := unix.SysctlRaw("net.inet.udp.stats")
	if err != nil {
		return 0, false
	}
	st, err := ParseDarwin(b, binary.NativeEndian)
	if err != nil {
		return 0, false
	}
	return uint64(st.FullSocket), true
}
