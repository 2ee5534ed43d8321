//go:build linux || darwin

package control

import (
	"fmt"
	"os"
	"syscall"
)

// socketGroup returns the socket file's group and whether its permissions
// let that group connect (write permission is what connect(2) needs).
func socketGroup(path string) (gid uint32, groupAccess bool, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, false, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false, fmt.Errorf("%s: no ownership information", path)
	}
	return st.Gid, fi.Mode().Perm()&0o020 != 0, nil
}
