package store

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBootTokens(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "pixie.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tok, err := st.IssueBootToken(ctx, "52-54-00-00-00-01", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tok2, _ := st.IssueBootToken(ctx, "52:54:00:00:00:01", time.Hour)
	if tok == tok2 || len(tok) < 32 {
		t.Fatalf("tokens should be random and long: %q %q", tok, tok2)
	}
	now := time.Now()
	if _, err := st.CheckBootToken(ctx, tok, "52:54:00:00:00:01", now); err != nil {
		t.Errorf("valid token refused: %v", err)
	}
	for _, tc := range []struct {
		tok, mac string
		at       time.Time
		want     error
	}{
		{"", "52:54:00:00:00:01", now, ErrTokenMissing},
		{"guess", "52:54:00:00:00:01", now, ErrTokenUnknown},
		{tok, "52:54:00:00:00:02", now, ErrTokenWrongMAC},
		{tok, "52:54:00:00:00:01", now.Add(time.Hour + time.Second), ErrTokenExpired},
	} {
		if _, err := st.CheckBootToken(ctx, tc.tok, tc.mac, tc.at); !errors.Is(err, tc.want) {
			t.Errorf("CheckBootToken(%q, %s) = %v, want %v", tc.tok, tc.mac, err, tc.want)
		}
	}
	var hashes int
	st.db.QueryRow(`SELECT count(*) FROM boot_tokens WHERE hash = ?`, tok).Scan(&hashes)
	if hashes != 0 {
		t.Error("the token itself is stored; only its hash should be")
	}
}

func TestProfileIgnitionValidated(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "pixie.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := Profile{Name: "fcos", OS: "fedora-coreos", Kernel: "k", Ignition: "variant: fcos\nversion: 1.5.0\nstorage:\n  files:\n    - path: etc/x\n"}
	_, err = st.CreateProfile(ctx, p)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "line 5 col 13: path not absolute") {
		t.Fatalf("bad Butane stored or wrong message: %v", err)
	}
	p.Ignition = "variant: fcos\nversion: 1.5.0\nstorage:\n  files:\n    - path: /etc/x\n      contents:\n        inline: {{json .Vars.x}}\n"
	if _, err := st.CreateProfile(ctx, p); err != nil {
		t.Fatal(err)
	}
	p.Ignition = `{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"nope"}]}}`
	if _, err := st.UpdateProfile(ctx, p); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad Ignition accepted on update: %v", err)
	}
	m := Machine{MAC: "52:54:00:00:00:01", Profile: "fcos", Ignition: `{"ignitionVersion": 1}`}
	if _, err := st.PutMachine(ctx, m); !errors.Is(err, ErrInvalid) {
		t.Fatalf("legacy machine overlay accepted: %v", err)
	}
	m.Ignition = `{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/etc/y"}]}}`
	got, err := st.PutMachine(ctx, m)
	if err != nil || got.Ignition != m.Ignition {
		t.Fatalf("machine overlay: %v %q", err, got.Ignition)
	}
}
