//go:build linux || darwin

package control

import (
	"fmt"
	"net"
)

// withSocketFD runs f on the file descriptor of a Unix socket connection,
// the part of reading peer credentials that is the same on every system.
func withSocketFD(c net.Conn, f func(fd int) error) error {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("not a Unix socket connection (%T)", c)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := raw.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}
