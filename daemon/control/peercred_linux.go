package control

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// peerCred asks the kernel who is at the other end of a Unix socket
// (SO_PEERCRED: the credentials the peer had when it connected).
func peerCred(c net.Conn) (Peer, error) {
	var cred *unix.Ucred
	err := withSocketFD(c, func(fd int) error {
		var err error
		if cred, err = unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED); err != nil {
			return fmt.Errorf("SO_PEERCRED: %w", err)
		}
		return nil
	})
	if err != nil {
		return Peer{}, err
	}
	return Peer{UID: cred.Uid, GID: cred.Gid, PID: cred.Pid}, nil
}
