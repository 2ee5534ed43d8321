package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestBootTokens(t *testing.T) { forEachBackend(t, testBootTokens) }

func testBootTokens(t *testing.T, b backend) {
	ctx := context.Background()
	st, err := Open(ctx, b.fresh(t))
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

func TestProfileIgnitionValidated(t *testing.T) { forEachBackend(t, testProfileIgnitionValidated) }

func testProfileIgnitionValidated(t *testing.T, b backend) {
	ctx := context.Background()
	st, err := Open(ctx, b.fresh(t))
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

// tokenRows counts the token rows, all of them or one MAC's.
func tokenRows(t *testing.T, s *Store, mac string) int {
	t.Helper()
	var n int
	q, args := `SELECT count(*) FROM boot_tokens`, []any{}
	if mac != "" {
		q, args = q+` WHERE mac = ?`, []any{mac}
	}
	if err := s.db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestBootTokensPerMACCap(t *testing.T) { forEachBackend(t, testBootTokensPerMACCap) }

func testBootTokensPerMACCap(t *testing.T, b backend) {
	ctx := context.Background()
	st := b.open(t)
	const mac = "52:54:00:00:00:01"
	var toks []string
	for range tokensPerMAC + 3 {
		tok, err := st.IssueBootToken(ctx, mac, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	other, err := st.IssueBootToken(ctx, "52:54:00:00:00:02", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if n := tokenRows(t, st, mac); n != tokensPerMAC {
		t.Errorf("%s holds %d tokens after %d issues, want %d", mac, n, len(toks), tokensPerMAC)
	}
	now := time.Now()
	// The newest tokensPerMAC still work: a machine that rebooted while an
	// older boot was still fetching its config.
	for i, tok := range toks {
		_, err := st.CheckBootToken(ctx, tok, mac, now)
		if newest := i >= len(toks)-tokensPerMAC; newest && err != nil {
			t.Errorf("token %d of %d (among the newest %d) refused: %v", i+1, len(toks), tokensPerMAC, err)
		} else if !newest && !errors.Is(err, ErrTokenUnknown) {
			t.Errorf("token %d of %d (superseded) = %v, want ErrTokenUnknown", i+1, len(toks), err)
		}
	}
	if _, err := st.CheckBootToken(ctx, other, "52:54:00:00:00:02", now); err != nil {
		t.Errorf("another MAC's token refused: %v", err)
	}
}

// TestBootTokensFlood issues tokens for 20,000 made-up MACs, as an HTTP
// flood of /ipxe?mac=... requests would, and checks the table stays within
// tokensMax and that machines pixie knows keep their tokens.
func TestBootTokensFlood(t *testing.T) { forEachBackend(t, testBootTokensFlood) }

func testBootTokensFlood(t *testing.T, b backend) {
	if testing.Short() {
		t.Skip("issues 20,000 tokens")
	}
	ctx := context.Background()
	st := b.open(t)
	const known, unknown = "52:54:00:aa:00:01", "52:54:00:aa:00:02"
	if _, err := st.PutMachine(ctx, Machine{MAC: known}); err != nil {
		t.Fatal(err)
	}
	knownTok, err := st.IssueBootToken(ctx, known, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	unknownTok, err := st.IssueBootToken(ctx, unknown, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	const flood = 20000
	start := time.Now()
	maxRows := 0
	for i := range flood {
		mac := fmt.Sprintf("02:00:00:%02x:%02x:%02x", i>>16&0xff, i>>8&0xff, i&0xff)
		if _, err := st.IssueBootToken(ctx, mac, time.Hour); err != nil {
			t.Fatal(err)
		}
		if i%1000 == 999 {
			maxRows = max(maxRows, tokenRows(t, st, ""))
		}
	}
	t.Logf("%d issues in %s", flood, time.Since(start).Round(time.Millisecond))
	if n := tokenRows(t, st, ""); n > tokensMax+tokenTrimEvery || maxRows > tokensMax+tokenTrimEvery {
		t.Errorf("after %d issues the table holds %d tokens (at most %d seen), want at most %d+%d", flood, n, maxRows, tokensMax, tokenTrimEvery)
	}
	now := time.Now()
	if _, err := st.CheckBootToken(ctx, knownTok, known, now); err != nil {
		t.Errorf("a known machine's token was lost to a flood of other MACs: %v", err)
	}
	// The documented trade-off: an unknown machine shares the cap with the
	// flood, and more than tokensMax newer tokens push its token out.
	if _, err := st.CheckBootToken(ctx, unknownTok, unknown, now); !errors.Is(err, ErrTokenUnknown) {
		t.Errorf("an unknown MAC's token older than %d flood tokens = %v, want ErrTokenUnknown", tokensMax, err)
	}
	// The newest flood tokens are the ones kept.
	var oldestKept string
	if err := st.db.QueryRow(`SELECT mac FROM boot_tokens WHERE mac != ? ORDER BY id LIMIT 1`, known).Scan(&oldestKept); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("02:00:00:%02x:%02x:%02x", (flood-tokensMax-tokenTrimEvery)>>16&0xff, (flood-tokensMax-tokenTrimEvery)>>8&0xff, (flood-tokensMax-tokenTrimEvery)&0xff); oldestKept < want {
		t.Errorf("oldest kept flood token is %s's, want one issued after %s's", oldestKept, want)
	}
}

// TestBootTokensWithinCapSurvive: a flood below tokensMax leaves every
// other machine's token valid, known or not.
func TestBootTokensWithinCapSurvive(t *testing.T) { forEachBackend(t, testBootTokensWithinCapSurvive) }

func testBootTokensWithinCapSurvive(t *testing.T, b backend) {
	ctx := context.Background()
	st := b.open(t)
	const mac = "52:54:00:bb:00:01"
	tok, err := st.IssueBootToken(ctx, mac, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for i := range tokensMax / 4 {
		if _, err := st.IssueBootToken(ctx, fmt.Sprintf("02:00:00:00:%02x:%02x", i>>8&0xff, i&0xff), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.CheckBootToken(ctx, tok, mac, time.Now()); err != nil {
		t.Errorf("token refused after %d other MACs' tokens: %v", tokensMax/4, err)
	}
}

// TestBootTokensSweptAfterKeep: rows past tokenKeep are refused as unknown
// even before a trim deletes them, and a trim deletes them.
func TestBootTokensSweptAfterKeep(t *testing.T) { forEachBackend(t, testBootTokensSweptAfterKeep) }

func testBootTokensSweptAfterKeep(t *testing.T, b backend) {
	ctx := context.Background()
	st := b.open(t)
	const mac = "52:54:00:cc:00:01"
	tok, err := st.IssueBootToken(ctx, mac, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour + tokenKeep + time.Minute)
	if _, err := st.CheckBootToken(ctx, tok, mac, later.Add(-2*time.Minute)); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("token within its keep = %v, want ErrTokenExpired (phone-home still accepts it)", err)
	}
	if _, err := st.CheckBootToken(ctx, tok, mac, later); !errors.Is(err, ErrTokenUnknown) {
		t.Errorf("token past its keep = %v, want ErrTokenUnknown", err)
	}
	tx, err := st.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := trimTokens(ctx, tx, later); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := tokenRows(t, st, ""); n != 0 {
		t.Errorf("%d rows after a trim past their keep, want 0", n)
	}
}
