//go:build !cgo

package store

// Without cgo go-sqlite3 has no driver (an SQLite Open fails first), so
// only PostgreSQL's errors are looked at. This file keeps the package
// compiling (and vetted) for cross-builds such as GOOS=darwin CGO_ENABLED=0.
func isConstraint(err error) bool { return pgConstraint(err) }

// isDiskFull has no SQLite error to look at without cgo; diskFull still
// matches syscall.ENOSPC.
func isDiskFull(err error) bool { return pgDiskFull(err) }
