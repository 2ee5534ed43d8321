package store

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pixie-boot/pixie/daemon/events"
)

// fillForCopy writes one of everything through the store's own API and
// returns a boot token it issued.
func fillForCopy(t *testing.T, s *Store) string {
	t.Helper()
	ctx := context.Background()
	if _, err := s.CreateProfile(ctx, Profile{Name: "worker", OS: "flatcar", Kernel: "flatcar/vmlinuz", Initrds: []string{"flatcar/initrd.img"},
		Args: "flatcar.first_boot=1 ignition.config.url={{.IgnitionURL}}", Vars: map[string]string{"role": "worker"}, PhoneHome: PhoneHomeNone}); err != nil {
		t.Fatal(err)
	}
	def, err := s.DefaultProfile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	def.Description = "edited"
	if _, err := s.UpdateProfile(ctx, def); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutMachine(ctx, Machine{MAC: "52:54:00:00:00:31", Profile: "worker", Hostname: "node1", Vars: map[string]string{"disk": "/dev/vda"},
		IP: "10.9.0.31/24", Gateway: "10.9.0.1", DNS: []string{"10.9.0.1"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLoaderStep(ctx, "52:54:00:00:00:32", "ipxe", "firmware did not run snponly.efi", time.Unix(1700000000, 0)); err != nil {
		t.Fatal(err)
	}
	for i, st := range []events.Stage{events.StageDHCP, events.StagePXE, events.StageTFTP, events.StageScript, events.StageIgnition} {
		if _, err := s.AddEvent(ctx, events.Event{MAC: "52:54:00:00:00:31", IP: "10.9.0.31", Arch: "efi-x64", Stage: st, Detail: "step", Instance: []string{"a", "b"}[i%2],
			Time: time.Unix(1800000000+int64(i), 0).UTC()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutLease(ctx, Lease{IP: "10.9.0.200", MAC: "52:54:00:00:00:33", State: "bound", Expires: time.Unix(1900000000, 0).UTC(), Hostname: "dyn"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSetting(ctx, SettingDHCPRange, "10.9.0.100-10.9.0.150"); err != nil {
		t.Fatal(err)
	}
	tok, err := s.IssueBootToken(ctx, "52:54:00:00:00:31", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// snapshot is everything a store shows through its API.
type snapshot struct {
	Profiles []Profile
	Machines []Machine
	Timeline []events.Event
	Boots    []BootSummary
	Leases   []Lease
	Range    string
	Default  string
}

func takeSnapshot(t *testing.T, s *Store) snapshot {
	t.Helper()
	ctx := context.Background()
	var sn snapshot
	var err error
	if sn.Profiles, err = s.Profiles(ctx); err != nil {
		t.Fatal(err)
	}
	if sn.Machines, err = s.Machines(ctx); err != nil {
		t.Fatal(err)
	}
	if sn.Timeline, err = s.Timeline(ctx, "52:54:00:00:00:31", 100); err != nil {
		t.Fatal(err)
	}
	if sn.Boots, err = s.RecentBoots(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if sn.Leases, err = s.Leases(ctx); err != nil {
		t.Fatal(err)
	}
	sn.Range, _ = s.Setting(ctx, SettingDHCPRange)
	sn.Default, _ = s.Setting(ctx, SettingDefaultProfile)
	return sn
}

// TestCopyBothWays copies a store with real data from each backend to
// each: everything reads back the same, the boot token still admits its
// machine, and the next event gets an ID after the copied ones.
func TestCopyBothWays(t *testing.T) {
	for _, from := range testBackends {
		for _, to := range testBackends {
			t.Run(from.name+"_to_"+to.name, func(t *testing.T) {
				ctx := context.Background()
				src := from.open(t)
				tok := fillForCopy(t, src)
				dst := to.open(t)
				stats, err := Copy(ctx, dst, src, false)
				if err != nil {
					t.Fatal(err)
				}
				want := takeSnapshot(t, src)
				got := takeSnapshot(t, dst)
				if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
					t.Errorf("target differs from source (-source +target):\n%s", d)
				}
				if len(want.Timeline) != 5 || len(want.Machines) != 2 || len(want.Leases) != 1 || len(want.Profiles) != 2 {
					t.Fatalf("source snapshot is not what was written: %+v", want)
				}
				if s := stats.String(); s != "2 settings, 2 profiles, 2 machines, 5 events, 1 boot tokens, 1 leases" {
					t.Errorf("stats = %q", s)
				}
				if _, err := dst.CheckBootToken(ctx, tok, "52:54:00:00:00:31", time.Now()); err != nil {
					t.Errorf("token issued by the source, checked on the target: %v", err)
				}
				e, err := dst.AddEvent(ctx, events.Event{MAC: "52:54:00:00:00:31", Stage: events.StageBooted})
				if err != nil || e.ID <= want.Timeline[4].ID {
					t.Errorf("event after the copy = id %d, %v; want after %d", e.ID, err, want.Timeline[4].ID)
				}
				if _, err := dst.IssueBootToken(ctx, "52:54:00:00:00:31", time.Hour); err != nil {
					t.Errorf("token after the copy: %v", err)
				}
			})
		}
	}
}

// TestCopyRefusesNonEmptyTarget: a target holding data is refused and
// left alone; --replace replaces it.
func TestCopyRefusesNonEmptyTarget(t *testing.T) { forEachBackend(t, testCopyRefusesNonEmptyTarget) }

func testCopyRefusesNonEmptyTarget(t *testing.T, b backend) {
	ctx := context.Background()
	src := testBackends[0].open(t)
	fillForCopy(t, src)
	dst := b.open(t)
	if _, err := dst.PutMachine(ctx, Machine{MAC: "52:54:00:00:00:99", Hostname: "keep"}); err != nil {
		t.Fatal(err)
	}
	before := takeSnapshot(t, dst)
	_, err := Copy(ctx, dst, src, false)
	if !errors.Is(err, ErrExists) {
		t.Fatalf("copy into a non-empty target = %v, want ErrExists", err)
	}
	if d := cmp.Diff(before, takeSnapshot(t, dst), cmpopts.EquateEmpty()); d != "" {
		t.Errorf("refused copy changed the target:\n%s", d)
	}
	if _, err := Copy(ctx, dst, src, true); err != nil {
		t.Fatalf("copy with replace: %v", err)
	}
	if d := cmp.Diff(takeSnapshot(t, src), takeSnapshot(t, dst), cmpopts.EquateEmpty()); d != "" {
		t.Errorf("after replace the target differs:\n%s", d)
	}
	if _, err := dst.Machine(ctx, "52:54:00:00:00:99"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the replaced target still has its own machine: %v", err)
	}
}

// TestCopyIsAtomic breaks the copy half-way (an event whose time SQLite
// kept as text, which the target refuses): the target is as it was.
func TestCopyIsAtomic(t *testing.T) { forEachBackend(t, testCopyIsAtomic) }

func testCopyIsAtomic(t *testing.T, b backend) {
	ctx := context.Background()
	src := testBackends[0].open(t)
	fillForCopy(t, src)
	// SQLite keeps what it cannot convert; the last events row is then
	// refused by the target's scan of it, or PostgreSQL's BIGINT.
	if _, err := src.db.ExecContext(ctx, `UPDATE events SET time = 'not a time' WHERE id = (SELECT max(id) FROM events)`); err != nil {
		t.Fatal(err)
	}
	dst := b.open(t)
	if _, err := dst.PutMachine(ctx, Machine{MAC: "52:54:00:00:00:99", Hostname: "keep"}); err != nil {
		t.Fatal(err)
	}
	before := takeSnapshot(t, dst)
	if b.name == "sqlite" {
		// SQLite would take the text as well: make its target refuse
		// with a constraint instead, on the last table copied.
		if _, err := src.db.ExecContext(ctx, `UPDATE events SET time = 0`); err != nil {
			t.Fatal(err)
		}
		if _, err := dst.db.ExecContext(ctx, `CREATE TRIGGER no_leases BEFORE INSERT ON leases BEGIN SELECT RAISE(ABORT, 'refused'); END`); err != nil {
			t.Fatal(err)
		}
	}
	_, err := Copy(ctx, dst, src, true)
	if err == nil {
		t.Fatal("copy of a broken row succeeded")
	}
	t.Logf("copy refused as it should: %v", err)
	if d := cmp.Diff(before, takeSnapshot(t, dst), cmpopts.EquateEmpty()); d != "" {
		t.Errorf("a failed copy changed the target:\n%s", d)
	}
}

// TestCopyCoversEveryTable keeps copyTables in step with the schema.
func TestCopyCoversEveryTable(t *testing.T) {
	s := openTest(t)
	rows, err := s.db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var schema []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		schema = append(schema, n)
	}
	var listed []string
	for _, c := range copyTables {
		listed = append(listed, c.name)
	}
	slices.Sort(listed)
	if !slices.Equal(schema, listed) {
		t.Errorf("schema tables %v, copyTables %v: add the new table to copyTables", schema, listed)
	}
}

// TestPgDumpRestore follows docs/operations.md's PostgreSQL backup: a
// pg_dump -Fc of a store that is open, restored with pg_restore into a new
// database, serves the same data.
func TestPgDumpRestore(t *testing.T) {
	ctx := context.Background()
	src := testBackends[1].open(t)
	tok := fillForCopy(t, src)
	dump := filepath.Join(t.TempDir(), "pixie.dump")
	if out, err := exec.Command(testPG.Tool("pg_dump"), "-Fc", "-d", src.Location(), "-f", dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v: %s", err, out)
	}
	restored := testPG.NewDatabase(t)
	if out, err := exec.Command(testPG.Tool("pg_restore"), "--no-owner", "-d", restored, dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v: %s", err, out)
	}
	dst, err := Open(ctx, restored)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if d := cmp.Diff(takeSnapshot(t, src), takeSnapshot(t, dst), cmpopts.EquateEmpty()); d != "" {
		t.Errorf("restored store differs (-dumped +restored):\n%s", d)
	}
	if _, err := dst.CheckBootToken(ctx, tok, "52:54:00:00:00:31", time.Now()); err != nil {
		t.Errorf("token after restore: %v", err)
	}
	if e, err := dst.AddEvent(ctx, events.Event{MAC: "52:54:00:00:00:31", Stage: events.StageBooted}); err != nil || e.ID <= 5 {
		t.Errorf("event after restore: id %d, %v; want after the restored ones", e.ID, err)
	}
}

// TestCopySnapshotLetsWritersOn: the copy's read of a serving SQLite store
// holds no write lock (the store's own transactions take one at BEGIN,
// and a writer would then fail with "database is locked" after the busy
// timeout), and keeps its snapshot while the store is written to.
func TestCopySnapshotLetsWritersOn(t *testing.T) { forEachBackend(t, testCopySnapshotLetsWritersOn) }

func testCopySnapshotLetsWritersOn(t *testing.T, b backend) {
	ctx := context.Background()
	src := b.open(t)
	fillForCopy(t, src)
	r, done, err := readSnapshot(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	count := func() int {
		t.Helper()
		rows, err := r.QueryContext(ctx, `SELECT count(*) FROM events`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var n int
		rows.Next()
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 5 {
		t.Fatalf("snapshot holds %d events, want 5", n)
	}
	if _, err := src.AddEvent(ctx, events.Event{MAC: "52:54:00:00:00:31", Stage: events.StageBooted}); err != nil {
		t.Fatalf("a serving store's write during the copy's read: %v", err)
	}
	if _, err := src.PutMachine(ctx, Machine{MAC: "52:54:00:00:00:81"}); err != nil {
		t.Fatalf("a serving store's write during the copy's read: %v", err)
	}
	if n := count(); n != 5 {
		t.Errorf("snapshot holds %d events after a write, want still 5", n)
	}
}
