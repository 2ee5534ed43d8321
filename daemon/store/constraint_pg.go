package store

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// pgConstraint reports a PostgreSQL integrity constraint violation (class
// 23: unique, foreign key, not null, check).
func pgConstraint(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && len(pe.Code) == 5 && pe.Code[:2] == "23"
}

// pgDiskFull reports PostgreSQL's disk_full (53100).
func pgDiskFull(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "53100"
}
