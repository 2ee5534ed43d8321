package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// readUserFile reads the file a user named with flag (like --ignition), with
// the caller's own permissions, up to limit+1 bytes so the caller can tell
// "too large". A failure says in words what is wrong with the file.
func readUserFile(flag, name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fileError(flag, name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fileError(flag, name, err)
	}
	return b, nil
}

// fileError words a failure to read a file named on the command line.
func fileError(flag, name string, err error) error {
	where := ""
	if !filepath.IsAbs(name) {
		if wd, werr := os.Getwd(); werr == nil {
			where = " in " + wd
		}
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return reword(err, "%s %s: there is no such file%s", flag, name, where)
	case errors.Is(err, fs.ErrPermission):
		return reword(err, "%s %s: permission denied: your user may not read it (see `ls -l %s`)", flag, name, name)
	case errors.Is(err, syscall.EISDIR):
		return reword(err, "%s %s is a directory: give a file", flag, name)
	}
	return fmt.Errorf("%s %s: cannot read it (%w)", flag, name, err)
}
