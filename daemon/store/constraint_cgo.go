//go:build cgo

package store

import (
	"errors"

	"github.com/mattn/go-sqlite3"
)

// isConstraint reports a UNIQUE or FOREIGN KEY violation.
func isConstraint(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.Code == sqlite3.ErrConstraint
}
