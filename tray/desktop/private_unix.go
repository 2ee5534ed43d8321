//go:build unix

package desktop

import (
	"fmt"
	"os"
	"syscall"
)

// checkPrivate refuses a directory that is a symlink, not ours, or open to
// others: someone could have created it first in the shared temp folder to
// read or replace what the tray writes there.
func checkPrivate(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Getuid() || fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s is not a private directory of this user: remove it and try again", dir)
	}
	return nil
}
