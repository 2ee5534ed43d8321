package control

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// peerCred asks the kernel who is at the other end of a Unix socket
// (LOCAL_PEERCRED, what getpeereid(3) uses, plus the peer's pid).
func peerCred(c net.Conn) (Peer, error) {
	var cred *unix.Xucred
	var pid int
	err := withSocketFD(c, func(fd int) error {
		var err error
		if cred, err = unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED); err != nil {
			return fmt.Errorf("LOCAL_PEERCRED: %w", err)
		}
		pid, _ = unix.GetsockoptInt(fd, unix.SOL_LOCAL, unix.LOCAL_PEERPID)
		return nil
	})
	if err != nil {
		return Peer{}, err
	}
	p := Peer{UID: cred.Uid, PID: int32(pid)}
	n := min(max(int(cred.Ngroups), 0), len(cred.Groups))
	if n > 0 {
		p.GID = cred.Groups[0]
		p.Groups = append([]uint32(nil), cred.Groups[1:n]...)
	}
	return p, nil
}
