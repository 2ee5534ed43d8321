package store

import (
	"errors"
	"fmt"
	"syscall"
)

// ErrDiskFull is matched (with errors.Is) by the error of a write that
// failed because the disk holding the database is full (SQLite's
// SQLITE_FULL, or ENOSPC from the file system). Nothing was written: the
// write's transaction was rolled back.
var ErrDiskFull = errors.New("the disk holding the database is full")

// diskFullError keeps the driver's error (for the log) and matches
// ErrDiskFull.
type diskFullError struct{ err error }

func (e *diskFullError) Error() string {
	return fmt.Sprintf("%v: %v", ErrDiskFull, e.err)
}

func (e *diskFullError) Unwrap() []error { return []error{ErrDiskFull, e.err} }

// diskFull returns err so that it matches ErrDiskFull when it says the disk
// is full, else err unchanged. Write methods pass their errors through it.
func diskFull(err error) error {
	if err == nil || errors.Is(err, ErrDiskFull) {
		return err
	}
	if isDiskFull(err) || errors.Is(err, syscall.ENOSPC) {
		return &diskFullError{err}
	}
	return err
}

// IsDiskFull reports whether err says the disk holding the database is
// full, whether or not a write method already marked it (errors.Is with
// ErrDiskFull).
func IsDiskFull(err error) bool {
	return err != nil && errors.Is(diskFull(err), ErrDiskFull)
}
