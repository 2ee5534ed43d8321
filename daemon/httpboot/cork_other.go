//go:build !linux

package httpboot

import "net"

// corkConn does nothing outside Linux: BSD's TCP_NOPUSH differs, and the
// measurements behind corking were made on Linux.
func corkConn(*net.TCPConn, bool) bool { return false }
