package store

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/internal/pgtest"
)

// TestPostgresUnreachableSaysWhatToDo opens databases that cannot be had:
// a socket directory with no server, and a database that does not exist
// on a running one. Each error matches ErrUnreachable and says what was
// tried and what to do.
func TestPostgresUnreachableSaysWhatToDo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := Open(ctx, "postgres://pixie@/pixie?host="+t.TempDir()+"&connect_timeout=5")
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "check that the server is running") ||
		!strings.Contains(err.Error(), `database "pixie"`) {
		t.Errorf("no server: %v; want ErrUnreachable naming the database and what to check", err)
	}

	u, err := url.Parse(testPG.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/no_such_db"
	_, err = Open(ctx, u.String())
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "createdb") {
		t.Errorf("missing database: %v; want ErrUnreachable saying to create it", err)
	}

	_, err = Open(ctx, "postgres://pixie:hunter2@db.example/pixie")
	if !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "--store-password-file") {
		t.Errorf("inline password: %v; want ErrInvalid, no password shown, how to pass it", err)
	}
}

// TestPostgresInstancesMigrateOnce starts several stores at once against
// one new database, as instances booting together would: the schema is
// created once (no duplicate-table errors) and seeded once.
func TestPostgresInstancesMigrateOnce(t *testing.T) {
	loc := testPG.NewDatabase(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	stores := make([]*Store, 4)
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = Open(ctx, loc)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	ps, err := stores[0].Profiles(ctx)
	if err != nil || len(ps) != 1 {
		t.Fatalf("profiles after concurrent starts: %d, %v; want the one seeded", len(ps), err)
	}
	if _, err := stores[1].PutMachine(ctx, Machine{MAC: "52:54:00:00:00:09", Hostname: "shared"}); err != nil {
		t.Fatal(err)
	}
	if m, err := stores[2].Machine(ctx, "52:54:00:00:00:09"); err != nil || m.Hostname != "shared" {
		t.Errorf("machine written by one instance, read by another: %+v, %v", m, err)
	}
}

// TestPostgresPassword logs in as a user that needs a password: without
// one, or with a wrong one, Open says the login was refused and how to pass
// it; Options.Password (what --store-password-file reads) logs in.
func TestPostgresPassword(t *testing.T) {
	ctx := context.Background()
	loc := testPG.NewPasswordDatabase(t)
	t.Setenv("PGPASSWORD", "")
	t.Setenv("PGPASSFILE", "/nonexistent")
	for _, pw := range []string{"", "wrong"} {
		_, err := OpenWith(ctx, loc, Options{Password: pw})
		if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "refused the login") {
			t.Errorf("password %q: %v; want the login refused", pw, err)
		}
		if err != nil && strings.Contains(err.Error(), pgtest.Password) {
			t.Errorf("the message shows the password: %v", err)
		}
		t.Logf("password %q: %v", pw, err)
	}
	s, err := OpenWith(ctx, loc, Options{Password: pgtest.Password})
	if err != nil {
		t.Fatalf("with the password: %v", err)
	}
	defer s.Close()
	if _, err := s.PutMachine(ctx, Machine{MAC: "52:54:00:00:00:51"}); err != nil {
		t.Error(err)
	}
}

// TestWatchEventsAcrossInstances: an instance watching the store hears of
// the events another instance commits, once per transaction, and can read
// them; on SQLite there is nothing to watch.
func TestWatchEventsAcrossInstances(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if s := openTest(t); s.Watchable() || s.WatchEvents(ctx, nil, func() { t.Error("SQLite notified") }) != nil {
		t.Errorf("SQLite store: watchable %v, want false and WatchEvents returning at once", s.Watchable())
	}
	loc := testPG.NewDatabase(t)
	a, err := OpenWith(ctx, loc, Options{Instance: "boot-a"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := OpenWith(ctx, loc, Options{Instance: "boot-b"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	changed := make(chan struct{}, 16)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- a.WatchEvents(wctx, slog.New(slog.DiscardHandler), func() { changed <- struct{}{} })
	}()
	wait := func(what string) {
		t.Helper()
		select {
		case <-changed:
		case <-time.After(10 * time.Second):
			t.Fatalf("no notification %s", what)
		}
	}
	wait("at connect")
	if _, err := b.AddEvents(ctx, []events.Event{{MAC: "52:54:00:00:00:61", Stage: events.StageDHCP}, {MAC: "52:54:00:00:00:61", Stage: events.StagePXE}}); err != nil {
		t.Fatal(err)
	}
	wait("after b's batch")
	es, err := a.EventsSince(ctx, 0, 10)
	if err != nil || len(es) != 2 || es[1].Instance != "boot-b" {
		t.Errorf("a reads after the notification: %+v, %v", es, err)
	}
	select {
	case <-changed:
		t.Error("one transaction notified twice")
	case <-time.After(300 * time.Millisecond):
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("WatchEvents after cancel = %v, want nil", err)
	}
}

// TestPostgresRestart restarts PostgreSQL under an open store: every write
// acknowledged before is there after, the store works again without being
// reopened, and the event watcher reconnects and says so (a catch-up
// call). A write in flight when the server goes away may fail; it is never
// acknowledged and then lost.
func TestPostgresRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	loc := testPG.NewDatabase(t)
	s, err := OpenWith(ctx, loc, Options{Instance: "boot-a"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.db.SetMaxIdleConns(4)
	changed := make(chan struct{}, 16)
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	go s.WatchEvents(wctx, slog.New(slog.DiscardHandler), func() { changed <- struct{}{} })
	<-changed
	const mac = "52:54:00:00:00:71"
	var acked []int64
	for range 20 {
		e, err := s.AddEvent(ctx, events.Event{MAC: mac, Stage: events.StageDHCP})
		if err != nil {
			t.Fatal(err)
		}
		acked = append(acked, e.ID)
	}
	// Warm several pooled connections, so the restart leaves dead ones.
	for range 4 {
		if _, err := s.Machines(ctx); err != nil {
			t.Fatal(err)
		}
	}
	testPG.Restart(t)

	failed := 0
	for i := range 20 {
		e, err := s.AddEvent(ctx, events.Event{MAC: mac, Stage: events.StageScript})
		if err != nil {
			failed++
			t.Logf("write %d after the restart: %v", i, err)
			if failed > 5 {
				t.Fatalf("the store does not recover after a PostgreSQL restart")
			}
			continue
		}
		acked = append(acked, e.ID)
	}
	t.Logf("%d of 20 writes right after the restart failed (none acknowledged)", failed)
	tl, err := s.Timeline(ctx, mac, 100)
	if err != nil {
		t.Fatal(err)
	}
	have := map[int64]bool{}
	for _, e := range tl {
		have[e.ID] = true
	}
	for _, id := range acked {
		if !have[id] {
			t.Errorf("acknowledged event %d is missing after the restart", id)
		}
	}
	if len(tl) != len(acked) {
		t.Errorf("%d events stored, %d acknowledged: none may be doubled or unacknowledged-but-kept", len(tl), len(acked))
	}
	select {
	case <-changed:
	case <-time.After(20 * time.Second):
		t.Error("the event watcher did not reconnect after the restart")
	}
}
