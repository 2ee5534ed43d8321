//go:build !linux && !darwin

package control

import (
	"fmt"
	"net"
	"runtime"
)

// peerCred is not implemented here: without the caller's identity every
// request is refused.
func peerCred(net.Conn) (Peer, error) {
	return Peer{}, fmt.Errorf("reading Unix socket peer credentials is not supported on %s", runtime.GOOS)
}

// socketGroup is not implemented here: only root would be allowed.
func socketGroup(string) (gid uint32, groupAccess bool, err error) {
	return 0, false, fmt.Errorf("socket ownership is not supported on %s", runtime.GOOS)
}
