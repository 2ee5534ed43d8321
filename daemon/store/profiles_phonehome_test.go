package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// TestMigrationFromV2 opens a database left by a pixie whose schema
// stopped at migration 2 (profiles without phone_home or vars): it is
// brought up to date, its profiles keep their fields and get the default
// phone-home (what {{.PhoneHomeURL}} meant then), and the new fields
// round-trip.
func TestMigrationFromV2(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pixie.db")
	db, err := sql.Open("sqlite3", "file:"+path+"?_foreign_keys=on")
	if err != nil {
		t.Fatal(err)
	}
	old := &Store{db: &sqlDB{DB: db, d: &sqliteDialect}}
	tx, err := old.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range migrations[:2] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			t.Fatalf("migration %d: %v", i+1, err)
		}
		if i == 0 {
			if err := old.seed(ctx, tx); err != nil {
				t.Fatal(err)
			}
		}
	}
	now := time.Now().UnixNano()
	if _, err := tx.ExecContext(ctx, `INSERT INTO profiles(name, description, os, kernel, initrds, args, ignition, created_at, updated_at)
		VALUES('fcos', 'old one', 'fedora-coreos', 'f/kernel', '["f/initramfs.img"]', 'coreos.live.rootfs_url={{.ServerURL}}/assets/f/rootfs.img', '{"ignition":{"version":"3.4.0"}}', ?, ?)`, now, now); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO machines(mac, profile, created_at, updated_at) VALUES('52:54:00:00:00:01', 'fcos', ?, ?)`, now, now); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = 2"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("open a v2 database: %v", err)
	}
	defer s.Close()
	var version int
	s.db.QueryRow("PRAGMA user_version").Scan(&version)
	if version != len(migrations) || version < 3 {
		t.Errorf("user_version %d after open, want %d", version, len(migrations))
	}
	p, err := s.Profile(ctx, "fcos")
	if err != nil {
		t.Fatal(err)
	}
	if p.Description != "old one" || p.Kernel != "f/kernel" || len(p.Initrds) != 1 || p.Ignition != `{"ignition":{"version":"3.4.0"}}` ||
		p.PhoneHome != PhoneHomeDefault || len(p.Vars) != 0 {
		t.Errorf("migrated profile %+v", p)
	}
	plan, err := s.PlanBoot(ctx, "52:54:00:00:00:01")
	if err != nil || plan.Profile.Name != "fcos" {
		t.Fatalf("plan after migration: %+v, %v", plan, err)
	}
	if def, err := s.DefaultProfile(ctx); err != nil || def.PhoneHome != PhoneHomeDefault {
		t.Errorf("seeded profile after migration: %+v, %v", def, err)
	}

	p.PhoneHome = "https://inventory.example/up?mac={{.MAC}}"
	p.Vars = map[string]string{"role": "worker"}
	if _, err := s.UpdateProfile(ctx, p); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, path) // reopening runs no migration again
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, _ = s.Profile(ctx, "fcos")
	if p.PhoneHome != "https://inventory.example/up?mac={{.MAC}}" || p.Vars["role"] != "worker" {
		t.Errorf("after update and reopen: %+v", p)
	}
}

func TestProfilePhoneHomeAndVarsValidation(t *testing.T) {
	forEachBackend(t, testProfilePhoneHomeAndVarsValidation)
}

func testProfilePhoneHomeAndVarsValidation(t *testing.T, b backend) {
	s := b.open(t)
	ctx := context.Background()
	base := Profile{Name: "p", Kernel: "k"}
	for _, tc := range []struct {
		phone string
		vars  map[string]string
		ok    bool
		want  string // stored phone_home
	}{
		{"", nil, true, PhoneHomeDefault},
		{"default", nil, true, PhoneHomeDefault},
		{"none", nil, true, PhoneHomeNone},
		{"http://10.0.0.5/up?mac={{.MAC}}&h={{.Hostname}}", nil, true, "http://10.0.0.5/up?mac={{.MAC}}&h={{.Hostname}}"},
		{"ftp://x/up", nil, false, ""},
		{"yes", nil, false, ""},
		{"http://x/up {{.MAC}}", nil, false, ""},
		{"http://x/{{.MAC", nil, false, ""},
		{"default", map[string]string{"role": "w", "_x": "1"}, true, PhoneHomeDefault},
		{"default", map[string]string{"bad-name": "w"}, false, ""},
	} {
		t.Run(fmt.Sprintf("%q %v", tc.phone, tc.vars), func(t *testing.T) {
			p := base
			p.PhoneHome, p.Vars = tc.phone, tc.vars
			got, err := s.CreateProfile(ctx, p)
			if !tc.ok {
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("stored %+v, err %v; want ErrInvalid", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.DeleteProfile(ctx, p.Name)
			if got.PhoneHome != tc.want || len(got.Vars) != len(tc.vars) {
				t.Errorf("stored %+v, want phone_home %q vars %v", got, tc.want, tc.vars)
			}
		})
	}
}
