package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/events"
)

func TestFreshDatabaseServesDefaultProfile(t *testing.T) {
	forEachBackend(t, testFreshDatabaseServesDefaultProfile)
}

func testFreshDatabaseServesDefaultProfile(t *testing.T, b backend) {
	s := b.open(t)
	ctx := context.Background()
	plan, err := s.PlanBoot(ctx, "52-54-00-12-34-56")
	if err != nil {
		t.Fatal(err)
	}
	if plan.Known || !plan.Default || plan.Profile.Name != DefaultProfileName {
		t.Fatalf("unknown MAC plan = %+v; want default profile %s", plan, DefaultProfileName)
	}
	if plan.Machine.MAC != "52:54:00:12:34:56" {
		t.Errorf("plan MAC = %q, want normalized", plan.Machine.MAC)
	}
	if res, err := s.IntegrityCheck(ctx); err != nil || res != "ok" {
		t.Errorf("integrity_check = %q, %v", res, err)
	}
	if b.name != "sqlite" {
		return
	}
	var mode string
	if err := s.db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk int
	if err := s.db.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
	}
}

func TestReopenKeepsDataAndSchema(t *testing.T) { forEachBackend(t, testReopenKeepsDataAndSchema) }

func testReopenKeepsDataAndSchema(t *testing.T, b backend) {
	path := b.fresh(t)
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutMachine(ctx, Machine{MAC: "902b.3414.f66a", Hostname: "node1"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	m, err := s.Machine(ctx, "90:2B:34:14:F6:6A")
	if err != nil || m.Hostname != "node1" {
		t.Fatalf("after reopen machine = %+v, %v", m, err)
	}
	ps, err := s.Profiles(ctx)
	if err != nil || len(ps) != 1 {
		t.Fatalf("seed ran twice or not at all: %d profiles, %v", len(ps), err)
	}
}

func TestProfileValidation(t *testing.T) { forEachBackend(t, testProfileValidation) }

func testProfileValidation(t *testing.T, b backend) {
	s := b.open(t)
	ctx := context.Background()
	cases := []struct {
		name string
		p    Profile
		want string
	}{
		{"bad name", Profile{Name: "Bad Name", Kernel: "k"}, "profile name"},
		{"no kernel", Profile{Name: "p"}, "no kernel"},
		{"traversal kernel", Profile{Name: "p", Kernel: "../etc/passwd"}, "relative path inside the asset store"},
		{"absolute initrd", Profile{Name: "p", Kernel: "k", Initrds: []string{"/etc/shadow"}}, "initrd"},
		{"backslash", Profile{Name: "p", Kernel: `a\b`}, "relative path"},
		{"bad template", Profile{Name: "p", Kernel: "k", Args: "x={{.Nope"}, "template"},
		{"multi-line args", Profile{Name: "p", Kernel: "k", Args: "a\nb"}, "one line"},
		{"unknown os", Profile{Name: "p", Kernel: "k", OS: "windows"}, "unknown OS"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.CreateProfile(ctx, c.p)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v; want ErrInvalid mentioning %q", err, c.want)
			}
		})
	}
	if ps, _ := s.Profiles(ctx); len(ps) != 1 {
		t.Errorf("a refused profile was stored: %d profiles", len(ps))
	}
}

func TestProfileLifecycle(t *testing.T) { forEachBackend(t, testProfileLifecycle) }

func testProfileLifecycle(t *testing.T, b backend) {
	s := b.open(t)
	ctx := context.Background()
	p := Profile{Name: "worker", Kernel: "debian/vmlinuz", Initrds: []string{"debian/initrd.img"}, Args: "ignition.config.url={{.IgnitionURL}}", Ignition: `{"ignition":{"version":"3.4.0"}}`}
	if _, err := s.CreateProfile(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateProfile(ctx, p); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	p.Args = "console=ttyS0"
	got, err := s.UpdateProfile(ctx, p)
	if err != nil || got.Args != "console=ttyS0" || got.Initrds[0] != "debian/initrd.img" {
		t.Fatalf("update = %+v, %v", got, err)
	}
	if _, err := s.UpdateProfile(ctx, Profile{Name: "ghost", Kernel: "k"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update missing: %v", err)
	}
	if _, err := s.PutMachine(ctx, Machine{MAC: "52:54:00:00:00:01", Profile: "worker"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteProfile(ctx, "worker"); !errors.Is(err, ErrInUse) {
		t.Fatalf("delete in-use profile: %v, want ErrInUse", err)
	}
	if err := s.DeleteProfile(ctx, DefaultProfileName); !errors.Is(err, ErrInUse) {
		t.Fatalf("delete default profile: %v, want ErrInUse", err)
	}
	plan, err := s.PlanBoot(ctx, "52:54:00:00:00:01")
	if err != nil || !plan.Known || plan.Default || plan.Profile.Name != "worker" {
		t.Fatalf("plan = %+v, %v", plan, err)
	}
	if err := s.DeleteMachine(ctx, "52:54:00:00:00:01"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteProfile(ctx, "worker"); err != nil {
		t.Fatalf("delete unused profile: %v", err)
	}
	if err := s.DeleteProfile(ctx, "worker"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}

func TestMachineValidationLeavesDatabaseUnchanged(t *testing.T) {
	forEachBackend(t, testMachineValidationLeavesDatabaseUnchanged)
}

func testMachineValidationLeavesDatabaseUnchanged(t *testing.T, b backend) {
	s := b.open(t)
	ctx := context.Background()
	bad := []Machine{
		{MAC: "not-a-mac"},
		{MAC: "52:54:00:00:00:02", Hostname: "-bad-"},
		{MAC: "52:54:00:00:00:02", Vars: map[string]string{"bad key": "x"}},
		{MAC: "52:54:00:00:00:02", Profile: "no-such-profile"},
	}
	for _, m := range bad {
		if _, err := s.PutMachine(ctx, m); !errors.Is(err, ErrInvalid) {
			t.Errorf("PutMachine(%+v) = %v, want ErrInvalid", m, err)
		}
	}
	if ms, _ := s.Machines(ctx); len(ms) != 0 {
		t.Errorf("refused machines were stored: %+v", ms)
	}
}

func TestRecentBootsAndTimeline(t *testing.T) { forEachBackend(t, testRecentBootsAndTimeline) }

func testRecentBootsAndTimeline(t *testing.T, b backend) {
	s := b.open(t)
	ctx := context.Background()
	add := func(mac string, st events.Stage) {
		t.Helper()
		if _, err := s.AddEvent(ctx, events.Event{MAC: mac, Stage: st, Arch: "efi-x64"}); err != nil {
			t.Fatal(err)
		}
	}
	add("52:54:00:00:00:0a", events.StageDHCP)
	add("52:54:00:00:00:0b", events.StageDHCP)
	add("52:54:00:00:00:0a", events.StageTFTP)
	add("", events.StageServer) // server events do not show as machines
	add("52:54:00:00:00:0b", events.StageScript)
	if _, err := s.PutMachine(ctx, Machine{MAC: "52:54:00:00:00:0b", Hostname: "b"}); err != nil {
		t.Fatal(err)
	}
	boots, err := s.RecentBoots(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(boots) != 2 || boots[0].MAC != "52:54:00:00:00:0b" || boots[0].Last.Stage != events.StageScript || !boots[0].Known || boots[0].Hostname != "b" {
		t.Fatalf("boots[0] = %+v (of %d)", boots[0], len(boots))
	}
	if boots[1].MAC != "52:54:00:00:00:0a" || boots[1].Last.Stage != events.StageTFTP || boots[1].Known || boots[1].Profile != DefaultProfileName {
		t.Fatalf("boots[1] = %+v", boots[1])
	}
	tl, err := s.Timeline(ctx, "52-54-00-00-00-0A", 0)
	if err != nil || len(tl) != 2 || tl[0].Stage != events.StageDHCP || tl[1].Stage != events.StageTFTP {
		t.Fatalf("timeline = %+v, %v", tl, err)
	}
	since, err := s.EventsSince(ctx, tl[0].ID, 0)
	if err != nil || len(since) != 4 {
		t.Fatalf("EventsSince = %d events, %v; want 4", len(since), err)
	}
}

func TestEventRetentionKeepsNewest(t *testing.T) { forEachBackend(t, testEventRetentionKeepsNewest) }

func testEventRetentionKeepsNewest(t *testing.T, b backend) {
	s := b.open(t)
	s.eventsMax, s.trimEveryN = 20, 10
	ctx := context.Background()
	for i := 0; i < 105; i++ {
		if _, err := s.AddEvent(ctx, events.Event{MAC: "52:54:00:00:00:01", Stage: events.StageDHCP}); err != nil {
			t.Fatal(err)
		}
	}
	var n, minID int64
	if err := s.db.QueryRow("SELECT count(*), min(id) FROM events").Scan(&n, &minID); err != nil {
		t.Fatal(err)
	}
	if n > 30 || minID < 80 {
		t.Fatalf("after 105 inserts with max 20: %d events, oldest id %d", n, minID)
	}
}

// A boot's address: the reservation wins, then a bound full-DHCP lease,
// then the newest real address the machine's requests came from.
func TestRecentBootsAddress(t *testing.T) { forEachBackend(t, testRecentBootsAddress) }

func testRecentBootsAddress(t *testing.T, b backend) {
	s := b.open(t)
	ctx := context.Background()
	add := func(mac, ip string, st events.Stage) {
		t.Helper()
		if _, err := s.AddEvent(ctx, events.Event{MAC: mac, IP: ip, Stage: st}); err != nil {
			t.Fatal(err)
		}
	}
	const seen, leased, reserved, none = "52:54:00:00:01:01", "52:54:00:00:01:02", "52:54:00:00:01:03", "52:54:00:00:01:04"
	add(seen, "10.0.0.40", events.StageScript)
	add(seen, "0.0.0.0", events.StageDHCP) // a new DISCOVER: no address yet
	add(leased, "10.0.0.41", events.StageScript)
	if err := s.PutLease(ctx, Lease{IP: "10.0.0.141", MAC: leased, State: "bound", Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutLease(ctx, Lease{IP: "10.0.0.142", MAC: leased, State: "released", Expires: time.Now()}); err != nil {
		t.Fatal(err)
	}
	add(reserved, "10.0.0.42", events.StageScript)
	if _, err := s.PutMachine(ctx, Machine{MAC: reserved, IP: "10.0.0.9/24"}); err != nil {
		t.Fatal(err)
	}
	add(none, "", events.StageDHCP)
	boots, err := s.RecentBoots(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{seen: "10.0.0.40", leased: "10.0.0.141", reserved: "10.0.0.9", none: ""}
	for _, b := range boots {
		if b.Address != want[b.MAC] {
			t.Errorf("%s: address %q, want %q", b.MAC, b.Address, want[b.MAC])
		}
	}
	if len(boots) != len(want) {
		t.Errorf("%d boots, want %d", len(boots), len(want))
	}
}
