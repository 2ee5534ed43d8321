package control

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// peerCred asks the kernel who is at the other end of a Unix socket
// (LOCAL_PEERCRED, what getpeereid(3) uses, plus the peer's pid).
func peerCred(c net.Conn) (Peer, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return Peer{}, fmt.Errorf("not a Unix socket connection (%T)", c)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return Peer{}, err
	}
	var cred *unix.Xucred
	var pid int
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptXucred(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
		if credErr == nil {
			pid, _ = unix.GetsockoptInt(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERPID)
		}
	}); err != nil {
		return Peer{}, err
	}
	if credErr != nil {
		return Peer{}, fmt.Errorf("LOCAL_PEERCRED: %w", credErr)
	}
	p := Peer{UID: cred.Uid, PID: int32(pid)}
	n := min(max(int(cred.Ngroups), 0), len(cred.Groups))
	if n > 0 {
		p.GID = cred.Groups[0]
		p.Groups = append([]uint32(nil), cred.Groups[1:n]...)
	}
	return p, nil
}
