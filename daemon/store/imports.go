package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// IsSeedProfile reports whether p is the default profile a new database
// starts with, never edited since: an import may replace it.
func IsSeedProfile(p Profile) bool {
	return p.Name == DefaultProfileName && p.Kernel == "first-time/vmlinuz" && p.Ignition == defaultIgnition &&
		p.CreatedAt.Equal(p.UpdatedAt)
}

// ImportBatch is one import's writes (see package importer).
type ImportBatch struct {
	// Profiles are created, or replace the profile of the same name.
	Profiles []Profile
	// Machines are created, or get their profile, hostname and variables
	// replaced; their loader, reservation and own config stay.
	Machines []Machine
	// DefaultProfile, if set, becomes the profile unknown machines boot.
	DefaultProfile string
}

// ApplyImport writes the batch in one transaction: all of it or nothing.
// beforeCommit, if set, runs once every row is written and before the
// commit (the import moves its staged asset files into place there); an
// error from it, like any failed write, rolls everything back.
func (s *Store) ApplyImport(ctx context.Context, b ImportBatch, beforeCommit func() error) error {
	for i := range b.Profiles {
		if err := b.Profiles[i].Validate(); err != nil {
			return err
		}
	}
	for i := range b.Machines {
		if err := b.Machines[i].Validate(); err != nil {
			return err
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return diskFull(err)
	}
	defer tx.Rollback()
	now := time.Now().UnixNano()
	for _, p := range b.Profiles {
		if p.Initrds == nil {
			p.Initrds = []string{}
		}
		initrds, _ := json.Marshal(p.Initrds)
		_, err := tx.ExecContext(ctx, `INSERT INTO profiles(`+profileCols+`) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT(name) DO UPDATE SET description = excluded.description, os = excluded.os, kernel = excluded.kernel,
				initrds = excluded.initrds, args = excluded.args, ignition = excluded.ignition, phone_home = excluded.phone_home,
				ignition_spec = excluded.ignition_spec, vars = excluded.vars, updated_at = excluded.updated_at`,
			p.Name, p.Description, p.OS, p.Kernel, string(initrds), p.Args, p.Ignition, p.PhoneHome, p.IgnitionSpec, marshalVars(p.Vars), now, now)
		if err != nil {
			return fmt.Errorf("import profile %s: %w", p.Name, diskFull(err))
		}
	}
	for _, m := range b.Machines {
		vars, _ := json.Marshal(nonNilVars(m.Vars))
		_, err := tx.ExecContext(ctx, `INSERT INTO machines(mac, profile, hostname, vars, ignition, loader, created_at, updated_at)
			VALUES(?, ?, ?, ?, '', ?, ?, ?)
			ON CONFLICT(mac) DO UPDATE SET profile = excluded.profile, hostname = excluded.hostname, vars = excluded.vars,
				updated_at = excluded.updated_at`,
			m.MAC, m.Profile, m.Hostname, string(vars), m.Loader, now, now)
		if isConstraint(err) {
			return fmt.Errorf("%w: import machine %s: profile %q does not exist", ErrInvalid, m.MAC, m.Profile)
		}
		if err != nil {
			return fmt.Errorf("import machine %s: %w", m.MAC, diskFull(err))
		}
	}
	if b.DefaultProfile != "" {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM profiles WHERE name = ?`, b.DefaultProfile).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: import: default profile %q does not exist", ErrInvalid, b.DefaultProfile)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings(key, value) VALUES(?, ?)
			ON CONFLICT(key) DO UPDATE SET value = excluded.value`, SettingDefaultProfile, b.DefaultProfile); err != nil {
			return diskFull(err)
		}
	}
	if beforeCommit != nil {
		if err := beforeCommit(); err != nil {
			return err
		}
	}
	return diskFull(tx.Commit())
}

func nonNilVars(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
