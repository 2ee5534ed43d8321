//go:build !linux

package dhcp

import "net"

// socketDrops is not known outside Linux.
func socketDrops(*net.UDPConn) (uint64, bool) { return 0, false }
