//go:build cgo

package store

import (
	"errors"
	"syscall"

	"github.com/mattn/go-sqlite3"
)

// isConstraint reports a UNIQUE or FOREIGN KEY violation, from either
// engine.
func isConstraint(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.Code == sqlite3.ErrConstraint || pgConstraint(err)
}

// isDiskFull reports SQLite's SQLITE_FULL, or a failed system call whose
// errno was ENOSPC, or PostgreSQL's disk_full.
func isDiskFull(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.Code == sqlite3.ErrFull || se.SystemErrno == syscall.ENOSPC) || pgDiskFull(err)
}
