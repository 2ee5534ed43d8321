package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// copyTables are the tables Copy moves, parents before children (machines
// name profiles). The schema's own bookkeeping (PRAGMA user_version,
// pixie_schema) is each database's. A new table must be added here: a
// test compares this list with the schema.
var copyTables = []struct {
	name  string
	hasID bool // an ID column the engine generates
}{
	{"settings", false},
	{"profiles", false},
	{"machines", false},
	{"events", true},
	{"boot_tokens", true},
	{"leases", false},
}

// CopyStats says how many rows of each table Copy wrote.
type CopyStats struct {
	Tables []TableCount `json:"tables"`
}

// TableCount is one table's row count.
type TableCount struct {
	Table string `json:"table"`
	Rows  int64  `json:"rows"`
}

func (c CopyStats) String() string {
	var parts []string
	for _, t := range c.Tables {
		parts = append(parts, fmt.Sprintf("%d %s", t.Rows, strings.ReplaceAll(t.Table, "_", " ")))
	}
	return strings.Join(parts, ", ")
}

// Copy copies everything src holds (profiles, machines, settings, boot
// events, boot tokens, leases), with its IDs, into dst: SQLite to
// PostgreSQL, back, or either to its own kind. dst must be empty (a new
// database, or one holding only the seeded default profile) unless replace
// is set; then what it held is replaced. It runs in one transaction on
// dst: on any error dst is left as it was. src is read in one snapshot
// that does not hold back its writers, so a copy of a store that is
// serving is consistent and the serving pixie is not slowed.
func Copy(ctx context.Context, dst, src *Store, replace bool) (CopyStats, error) {
	var stats CopyStats
	if dst.location == src.location {
		return stats, fmt.Errorf("%w: %s is both the source and the target of the copy", ErrInvalid, dst.location)
	}
	rtx, done, err := readSnapshot(ctx, src)
	if err != nil {
		return stats, fmt.Errorf("read %s: %w", src.location, err)
	}
	defer done()
	wtx, err := dst.db.BeginTx(ctx, nil)
	if err != nil {
		return stats, fmt.Errorf("write %s: %w", dst.location, diskFull(err))
	}
	defer wtx.Rollback()
	if !replace {
		if what, err := holds(ctx, wtx); err != nil {
			return stats, err
		} else if what != "" {
			return stats, fmt.Errorf("%w: the target %s is not empty (it holds %s): copy into a new database, or give --replace to replace what it holds", ErrExists, dst.location, what)
		}
	}
	// Children first out, parents first in.
	for i := len(copyTables) - 1; i >= 0; i-- {
		if _, err := wtx.ExecContext(ctx, `DELETE FROM `+copyTables[i].name); err != nil {
			return stats, fmt.Errorf("empty %s in %s: %w", copyTables[i].name, dst.location, diskFull(err))
		}
	}
	for _, t := range copyTables {
		n, err := copyTable(ctx, wtx, rtx, t.name)
		if err != nil {
			return stats, fmt.Errorf("copy %s: %w", t.name, diskFull(err))
		}
		if t.hasID {
			if err := dst.db.d.resetIDs(ctx, wtx, t.name); err != nil {
				return stats, fmt.Errorf("copy %s: %w", t.name, err)
			}
		}
		stats.Tables = append(stats.Tables, TableCount{t.name, n})
	}
	if err := wtx.Commit(); err != nil {
		return stats, fmt.Errorf("write %s: %w", dst.location, diskFull(err))
	}
	return stats, nil
}

// reader is what copyTable reads from: a transaction, or a connection
// holding one open.
type reader interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// readSnapshot opens one consistent read of s without holding back its
// writers. PostgreSQL: a read-only repeatable-read transaction. SQLite: a
// deferred transaction on a connection of its own (the store's own
// transactions take the write lock at BEGIN, which would make a serving
// pixie's writes wait for the copy); in WAL mode its snapshot is taken at
// the first read and kept to the end.
func readSnapshot(ctx context.Context, s *Store) (reader, func(), error) {
	if s.db.d == &postgresDialect {
		tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
		if err != nil {
			return nil, nil, err
		}
		return tx, func() { tx.Rollback() }, nil
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	if _, err := conn.ExecContext(ctx, "BEGIN DEFERRED"); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, func() {
		conn.ExecContext(context.Background(), "ROLLBACK")
		conn.Close()
	}, nil
}

// holds says what a database holds beyond what a new one is seeded with
// ("" for nothing).
func holds(ctx context.Context, tx *sqlTx) (string, error) {
	var parts []string
	for _, t := range []string{"machines", "events", "leases", "boot_tokens"} {
		var n int64
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+t).Scan(&n); err != nil {
			return "", err
		}
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, strings.ReplaceAll(t, "_", " ")))
		}
	}
	// The seeded default profile, never edited, does not count.
	var n int64
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM profiles WHERE name != ? OR updated_at != created_at`, DefaultProfileName).Scan(&n); err != nil {
		return "", err
	}
	if n > 0 {
		parts = append(parts, fmt.Sprintf("%d profiles", n))
	}
	return strings.Join(parts, ", "), nil
}

// copyTable copies one table's rows, by column name (the two databases
// are at the same schema version, but columns added by ALTER TABLE need
// not be in the same order).
func copyTable(ctx context.Context, dst *sqlTx, src reader, table string) (int64, error) {
	rows, err := src.QueryContext(ctx, `SELECT * FROM `+table)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")
	stmt, err := dst.PrepareContext(ctx, `INSERT INTO `+table+`(`+strings.Join(cols, ", ")+`) VALUES(`+marks+`)`)
	if err != nil {
		return 0, err
	}
	defer stmt.Close()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		// No column holds bytes: text a driver hands over as []byte is
		// text on the other side too.
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = string(b)
			}
		}
		if _, err := stmt.ExecContext(ctx, vals...); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}
