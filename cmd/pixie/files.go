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

// pathProblem words a file-system failure as "could not VERB PATH: WHY".
func pathProblem(pe *fs.PathError) string {
	verb := map[string]string{"mkdir": "create the directory", "open": "open", "read": "read", "write": "write",
		"rename": "rename", "remove": "remove", "unlinkat": "remove", "chmod": "change the mode of", "chown": "change the owner of",
		"stat": "look at", "lstat": "look at"}[pe.Op]
	if verb == "" {
		verb = pe.Op
	}
	why := pe.Err.Error()
	switch {
	case errors.Is(pe.Err, fs.ErrNotExist):
		why = "it, or a directory above it, does not exist"
	case errors.Is(pe.Err, syscall.ENOTDIR):
		why = "a part of the path is a file, not a directory"
	case errors.Is(pe.Err, fs.ErrPermission):
		why = "permission denied (run the command with sudo)"
	case errors.Is(pe.Err, syscall.EROFS):
		why = "the file system is read-only"
	case errors.Is(pe.Err, syscall.ENOSPC):
		why = "the disk is full"
	}
	return fmt.Sprintf("could not %s %s: %s", verb, pe.Path, why)
}

// serviceError words a file-system failure of installing or controlling
// the service; other errors (from systemd or launchd) already say what
// happened.
func serviceError(what string, err error) error {
	var pe *fs.PathError
	if err == nil || !errors.As(err, &pe) {
		return err
	}
	return reword(err, "%s: %s", what, pathProblem(pe))
}
