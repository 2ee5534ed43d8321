package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fillDatabase makes the database "full" the way SQLite reports a full
// disk (SQLITE_FULL): it caps the database at the pages it has now with
// PRAGMA max_page_count. The pragma is per connection, so the store is
// held to one. It returns a function that lifts the cap again.
func fillDatabase(t *testing.T, s *Store) (free func()) {
	t.Helper()
	s.db.SetMaxOpenConns(1)
	var pages int64
	if err := s.db.QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(fmt.Sprintf(`PRAGMA max_page_count = %d`, pages)); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		if _, err := s.db.Exec(`PRAGMA max_page_count = 1073741823`); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWritesSayDiskFull(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	big := strings.Repeat("x", 60<<10) // needs new pages whatever is free
	if _, err := s.CreateProfile(ctx, Profile{Name: "p", Kernel: "k"}); err != nil {
		t.Fatal(err)
	}
	free := fillDatabase(t, s)
	full := true

	writes := map[string]func() error{
		"PutMachine": func() error {
			_, err := s.PutMachine(ctx, Machine{MAC: "52:54:00:00:00:01", Vars: map[string]string{"big": big}})
			return err
		},
		"CreateProfile": func() error {
			_, err := s.CreateProfile(ctx, Profile{Name: "q", Kernel: "k", Description: big})
			return err
		},
		"UpdateProfile": func() error {
			_, err := s.UpdateProfile(ctx, Profile{Name: "p", Kernel: "k", Description: big})
			return err
		},
		"SetSetting": func() error { return s.SetSetting(ctx, "big", big) },
		"IssueBootToken": func() error {
			// A token row is small: issue until the free space in the
			// pages the database has is used up.
			for i := range 100000 {
				if _, err := s.IssueBootToken(ctx, fmt.Sprintf("02:00:00:00:%02x:%02x", i>>8&0xff, i&0xff), time.Hour); err != nil || !full {
					return err
				}
			}
			return nil
		},
	}
	for name, write := range writes {
		err := write()
		if !errors.Is(err, ErrDiskFull) || !IsDiskFull(err) {
			t.Errorf("%s with the database full: %v, want an error matching ErrDiskFull", name, err)
			continue
		}
		if !strings.Contains(err.Error(), "full") {
			t.Errorf("%s: %q does not say the disk is full", name, err)
		}
	}
	// Nothing was written.
	if _, err := s.Machine(ctx, "52:54:00:00:00:01"); !errors.Is(err, ErrNotFound) {
		t.Errorf("machine after a failed write: %v, want ErrNotFound", err)
	}
	if p, err := s.Profile(ctx, "p"); err != nil || p.Description != "" {
		t.Errorf("profile after a failed update: %q, %v; want it unchanged", p.Description, err)
	}
	// Space again: the same writes work.
	free()
	full = false
	for name, write := range writes {
		if err := write(); err != nil {
			t.Errorf("%s after space was freed: %v", name, err)
		}
	}
	if res, err := s.IntegrityCheck(ctx); err != nil || res != "ok" {
		t.Errorf("integrity_check: %q, %v", res, err)
	}
}

func TestDiskFullMatching(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("database is locked"), false},
		{ErrInvalid, false},
		{&os.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}, true},
		{fmt.Errorf("wrapped: %w", syscall.ENOSPC), true},
		{fmt.Errorf("wrapped: %w", ErrDiskFull), true},
	} {
		if got := IsDiskFull(tc.err); got != tc.want {
			t.Errorf("IsDiskFull(%v) = %v, want %v", tc.err, got, tc.want)
		}
		if got := errors.Is(diskFull(tc.err), ErrDiskFull); got != tc.want {
			t.Errorf("errors.Is(diskFull(%v), ErrDiskFull) = %v, want %v", tc.err, got, tc.want)
		}
		if !tc.want && diskFull(tc.err) != tc.err {
			t.Errorf("diskFull(%v) changed an unrelated error", tc.err)
		}
	}
	// The driver's own error stays reachable (and in the message) for the log.
	err := diskFull(syscall.ENOSPC)
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), syscall.ENOSPC.Error()) {
		t.Errorf("diskFull lost the cause: %v", err)
	}
}
