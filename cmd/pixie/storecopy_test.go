package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/store"
	"github.com/pixie-boot/pixie/internal/pgtest"
)

// testPG is this test binary's PostgreSQL cluster (socket only, in a
// temporary directory), started by the first test that needs it.
var testPG pgtest.Cluster

func TestMain(m *testing.M) {
	code := m.Run()
	testPG.Stop()
	os.Exit(code)
}

// TestStoreCopyRoundTrip moves a served SQLite database to PostgreSQL and
// back with `pixie store copy`: a machine, a profile and boot events come
// back as they were, and a second copy into the now full database is
// refused with what to do.
func TestStoreCopyRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	first := filepath.Join(dir, "pixie.db")
	s, err := store.Open(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateProfile(ctx, store.Profile{Name: "worker", Kernel: "w/vmlinuz"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutMachine(ctx, store.Machine{MAC: "52:54:00:00:00:41", Profile: "worker", Hostname: "node41"}); err != nil {
		t.Fatal(err)
	}
	for _, st := range []events.Stage{events.StageDHCP, events.StageScript, events.StageIgnition} {
		if _, err := s.AddEvent(ctx, events.Event{MAC: "52:54:00:00:00:41", Stage: st}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	pg := testPG.NewDatabase(t)
	out := mustPixie(t, nil, "store", "copy", first, pg)
	wantContains(t, "to postgres", out, "copied 1 settings, 2 profiles, 1 machines, 3 events, 0 boot tokens, 0 leases", "from "+first, "to   postgres://")

	back := filepath.Join(dir, "back.db")
	mustPixie(t, nil, "store", "copy", pg, back)
	b, err := store.Open(ctx, back)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	plan, err := b.PlanBoot(ctx, "52:54:00:00:00:41")
	if err != nil || plan.Profile.Name != "worker" || plan.Machine.Hostname != "node41" {
		t.Errorf("after the round trip: %+v, %v", plan, err)
	}
	if tl, err := b.Timeline(ctx, "52:54:00:00:00:41", 10); err != nil || len(tl) != 3 || tl[2].Stage != events.StageIgnition {
		t.Errorf("timeline after the round trip: %+v, %v", tl, err)
	}

	code, _, errOut := pixie(t, nil, "", "store", "copy", first, pg)
	if code != exitUsage || !strings.Contains(errOut, "not empty") || !strings.Contains(errOut, "--replace") {
		t.Errorf("copy into a full database: exit %d, %s", code, errOut)
	}
	mustPixie(t, nil, "store", "copy", "--replace", first, pg)

	code, _, errOut = pixie(t, nil, "", "store", "copy", filepath.Join(dir, "missing.db"), filepath.Join(dir, "x.db"))
	if code != exitUsage || !strings.Contains(errOut, "no database at") {
		t.Errorf("copy from a missing file: exit %d, %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.db")); !os.IsNotExist(err) {
		t.Errorf("a refused copy created its target: %v", err)
	}
}
