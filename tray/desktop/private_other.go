//go:build !unix

package desktop

import (
	"fmt"
	"os"
)

// checkPrivate refuses a symlink or a non-directory; there are no Unix
// owners and modes to check here.
func checkPrivate(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}
