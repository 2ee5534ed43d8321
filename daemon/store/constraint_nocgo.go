//go:build !cgo

package store

// isConstraint is never true without cgo: go-sqlite3 then has no driver
// and Open fails first. This file keeps the package compiling (and vetted)
// for cross-builds such as GOOS=darwin CGO_ENABLED=0.
func isConstraint(error) bool { return false }

// isDiskFull has no SQLite error to look at without cgo; diskFull still
// matches syscall.ENOSPC.
func isDiskFull(error) bool { return false }
