//go:build !linux

package dhcp

import "net"

// growReadBuffer asks for a receive buffer of size bytes, as far as the
// system allows. Best effort.
func growReadBuffer(conn *net.UDPConn, size int) { _ = conn.SetReadBuffer(size) }
