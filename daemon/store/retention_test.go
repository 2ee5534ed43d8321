package store

import (
	"context"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/events"
)

// eventRows returns the number of events and the oldest and newest event
// times.
func eventRows(t *testing.T, s *Store) (n int64, oldest, newest time.Time) {
	t.Helper()
	var lo, hi *int64
	if err := s.db.QueryRow("SELECT count(*), min(time), max(time) FROM events").Scan(&n, &lo, &hi); err != nil {
		t.Fatal(err)
	}
	if lo != nil {
		oldest, newest = time.Unix(0, *lo), time.Unix(0, *hi)
	}
	return n, oldest, newest
}

func TestEventRetentionByAge(t *testing.T) { forEachBackend(t, testEventRetentionByAge) }

func testEventRetentionByAge(t *testing.T, b backend) {
	s := b.open(t)
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	s.eventsMaxAge, s.trimEveryN = 24*time.Hour, 10
	ctx := context.Background()
	add := func(age time.Duration) {
		t.Helper()
		if _, err := s.AddEvent(ctx, events.Event{Time: now.Add(-age), MAC: "52:54:00:00:00:01", Stage: events.StageDHCP}); err != nil {
			t.Fatal(err)
		}
	}
	// IDs 1-6 too old, 7-9 young: no trim yet (it runs at ID 10).
	for range 6 {
		add(48 * time.Hour)
	}
	for range 3 {
		add(time.Hour)
	}
	if n, _, _ := eventRows(t, s); n != 9 {
		t.Fatalf("before the trim: %d events, want 9", n)
	}
	add(23 * time.Hour) // ID 10: trims
	n, oldest, _ := eventRows(t, s)
	if n != 4 || oldest.Before(now.Add(-24*time.Hour)) {
		t.Fatalf("after the trim with max age 24h: %d events, oldest %s; want the 4 younger than 24h", n, oldest)
	}
	// CountEvents agrees.
	if c, err := s.CountEvents(ctx); err != nil || c != 4 {
		t.Fatalf("CountEvents = %d, %v; want 4", c, err)
	}
}

func TestEventRetentionAppliedAtOpen(t *testing.T) {
	forEachBackend(t, testEventRetentionAppliedAtOpen)
}

func testEventRetentionAppliedAtOpen(t *testing.T, b backend) {
	path := b.fresh(t)
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if max, age := s.EventRetention(); max != DefaultEventsMax || age != DefaultEventsMaxAge {
		t.Errorf("fresh database retention = %d, %s; want %d, %s", max, age, DefaultEventsMax, DefaultEventsMaxAge)
	}
	now := time.Now()
	for i, age := range []time.Duration{60 * 24 * time.Hour, 40 * 24 * time.Hour, 3 * time.Hour, 2 * time.Hour, time.Hour, time.Minute} {
		if _, err := s.AddEvent(ctx, events.Event{Time: now.Add(-age), MAC: "52:54:00:00:00:02", Stage: events.StageDHCP, Detail: string(rune('a' + i))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetSetting(ctx, SettingEventsMax, "3"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSetting(ctx, SettingEventsMaxAge, "30d"); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if max, age := s.EventRetention(); max != 3 || age != 30*24*time.Hour {
		t.Errorf("retention after setting 3 and 30d = %d, %s", max, age)
	}
	es, err := s.EventsSince(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var details string
	for _, e := range es {
		details += e.Detail
	}
	// Both limits at open: the 60- and 40-day-old events by age, and of
	// the four young ones only the newest three by count.
	if details != "def" {
		t.Errorf("after reopening with events_max 3, events_max_age 30d: events %q, want the newest three \"def\"", details)
	}
}

func TestEventRetentionBadSettingsKeepDefaults(t *testing.T) {
	forEachBackend(t, testEventRetentionBadSettingsKeepDefaults)
}

func testEventRetentionBadSettingsKeepDefaults(t *testing.T, b backend) {
	path := b.fresh(t)
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s.SetSetting(ctx, SettingEventsMax, "lots")
	s.SetSetting(ctx, SettingEventsMaxAge, "forever")
	s.Close()
	if s, err = Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if max, age := s.EventRetention(); max != DefaultEventsMax || age != DefaultEventsMaxAge {
		t.Errorf("retention with unparsable settings = %d, %s; want the defaults", max, age)
	}
}

func TestParseAge(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30d", 30 * 24 * time.Hour, true},
		{" 7d ", 7 * 24 * time.Hour, true},
		{"720h", 720 * time.Hour, true},
		{"90m", 90 * time.Minute, true},
		{"0", 0, true},
		{"", 0, false},
		{"d", 0, false},
		{"-1d", 0, false},
		{"-5h", 0, false},
		{"1.5d", 0, false},
		{"forever", 0, false},
	} {
		got, err := ParseAge(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseAge(%q) = %s, %v; want %s, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestSetEventRetentionPersistsAndTrims(t *testing.T) {
	forEachBackend(t, testSetEventRetentionPersistsAndTrims)
}

func testSetEventRetentionPersistsAndTrims(t *testing.T, b backend) {
	path := b.fresh(t)
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if _, err := s.AddEvent(ctx, events.Event{MAC: "52:54:00:00:00:01", Stage: events.StageDHCP}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetEventRetention(ctx, 20, 0); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := eventRows(t, s); n != 20 {
		t.Fatalf("after lowering events_max to 20: %d events", n)
	}
	if err := s.SetEventRetention(ctx, -1, 0); err == nil {
		t.Fatal("a negative limit was accepted")
	}
	s.Close()
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if max, age := s.EventRetention(); max != 20 || age != DefaultEventsMaxAge {
		t.Fatalf("after reopening: limits %d, %s; want 20 and the default age", max, age)
	}
}
