package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/hwaddr"
)

// AddEvent appends a boot event and returns it with its ID. It keeps the
// table bounded: every few hundred inserts (trimEvery) the oldest events
// beyond the configured count (events_max) and those older than the
// configured age (events_max_age) are deleted, newest kept. Between trims
// the table may hold up to trimEvery-1 events more than events_max.
func (s *Store) AddEvent(ctx context.Context, e events.Event) (events.Event, error) {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	if e.Instance == "" {
		e.Instance = s.instance
	}
	s.hotWrites.Lock()
	defer s.hotWrites.Unlock()
	err := s.db.QueryRowContext(ctx, `INSERT INTO events(time, mac, ip, arch, stage, detail, instance) VALUES(?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		e.Time.UnixNano(), e.MAC, e.IP, e.Arch, string(e.Stage), e.Detail, e.Instance).Scan(&e.ID)
	if err != nil {
		return e, diskFull(err)
	}
	if e.ID%s.trimEveryN == 0 {
		if err := s.trimEvents(ctx, e.ID); err != nil {
			return e, fmt.Errorf("trim old events: %w", err)
		}
	}
	return e, nil
}

// AddEvents appends several boot events in one transaction and returns
// them with their IDs: a burst of DHCP answers costs one commit instead of
// one per event. Retention is kept as AddEvent keeps it.
func (s *Store) AddEvents(ctx context.Context, es []events.Event) ([]events.Event, error) {
	if len(es) == 0 {
		return es, nil
	}
	s.hotWrites.Lock()
	defer s.hotWrites.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return es, err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO events(time, mac, ip, arch, stage, detail, instance) VALUES(?, ?, ?, ?, ?, ?, ?) RETURNING id`)
	if err != nil {
		return es, err
	}
	defer stmt.Close()
	out := make([]events.Event, len(es))
	for i, e := range es {
		if e.Time.IsZero() {
			e.Time = time.Now().UTC()
		}
		if e.Instance == "" {
			e.Instance = s.instance
		}
		if err := stmt.QueryRowContext(ctx, e.Time.UnixNano(), e.MAC, e.IP, e.Arch, string(e.Stage), e.Detail, e.Instance).Scan(&e.ID); err != nil {
			return es, diskFull(err)
		}
		out[i] = e
	}
	if err := tx.Commit(); err != nil {
		return es, diskFull(err)
	}
	first, last := out[0].ID, out[len(out)-1].ID
	if last/s.trimEveryN > (first-1)/s.trimEveryN {
		if err := s.trimEvents(ctx, last); err != nil {
			return out, fmt.Errorf("trim old events: %w", err)
		}
	}
	return out, nil
}

// trimEvents deletes the events beyond the retention limits: all but the
// newest eventsMax (by ID; lastID is the newest ID, 0 to look it up) and
// every event older than eventsMaxAge.
func (s *Store) trimEvents(ctx context.Context, lastID int64) error {
	if lastID == 0 {
		var max sql.NullInt64
		if err := s.db.QueryRowContext(ctx, `SELECT max(id) FROM events`).Scan(&max); err != nil {
			return err
		}
		lastID = max.Int64
	}
	if s.eventsMax > 0 && lastID > s.eventsMax {
		if _, err := s.db.ExecContext(ctx, `DELETE FROM events WHERE id <= ?`, lastID-s.eventsMax); err != nil {
			return err
		}
	}
	if s.eventsMaxAge > 0 {
		cutoff := s.now().Add(-s.eventsMaxAge).UnixNano()
		// time has no index, so the DELETE reads the whole table: at
		// 100,000 events and a trim every 500 inserts, a flood of new
		// machines spent more CPU on these scans than on answering them.
		// Events are stored in the order they happen, so the one with the
		// lowest ID is the oldest: when it is young enough, nothing is to
		// be deleted (the usual case) and the scan is skipped.
		var oldest int64
		switch err := s.db.QueryRowContext(ctx, `SELECT time FROM events ORDER BY id LIMIT 1`).Scan(&oldest); {
		case errors.Is(err, sql.ErrNoRows):
			return nil
		case err != nil:
			return err
		case oldest >= cutoff:
			return nil
		}
		if _, err := s.db.ExecContext(ctx, `DELETE FROM events WHERE time < ?`, cutoff); err != nil {
			return err
		}
	}
	return nil
}

// CountEvents returns how many boot events the table holds.
func (s *Store) CountEvents(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM events`).Scan(&n)
	return n, err
}

// BootSummary is one MAC's most recent activity, for "recently booted".
type BootSummary struct {
	MAC       string       `json:"mac"`
	Last      events.Event `json:"last"`
	FirstSeen time.Time    `json:"first_seen"`
	Known     bool         `json:"known"`
	Profile   string       `json:"profile"`
	Hostname  string       `json:"hostname,omitempty"`
	// Loader and LoaderStep are the machine's loader and the ladder rung
	// it reached (see Machine); auto and empty for a MAC with no record.
	Loader     string `json:"loader"`
	LoaderStep string `json:"loader_step,omitempty"`
	// Address is where the machine is: its reserved address, else the
	// address it holds a full-DHCP lease on, else the newest address its
	// boot requests came from. Empty when none is known yet.
	Address string `json:"address,omitempty"`
}

// RecentBoots returns the MACs with boot events, newest activity first.
func (s *Store) RecentBoots(ctx context.Context, limit int) ([]BootSummary, error) {
	if limit <= 0 || limit > 10000 {
		limit = 50
	}
	def, _ := s.Setting(ctx, SettingDefaultProfile)
	rows, err := s.db.QueryContext(ctx, `
		SELECT e.id, e.time, e.mac, e.ip, e.arch, e.stage, e.detail, e.instance, r.first,
		       m.mac IS NOT NULL, coalesce(m.profile, ''), coalesce(m.hostname, ''),
		       coalesce(m.loader, 'auto'), coalesce(m.loader_step, ''),
		       coalesce(nullif(m.ip, ''),
		                (SELECT l.ip FROM leases l WHERE l.mac = r.mac AND l.state = 'bound' ORDER BY l.updated_at DESC LIMIT 1),
		                (SELECT a.ip FROM events a WHERE a.mac = r.mac AND a.ip NOT IN ('', '0.0.0.0') ORDER BY a.id DESC LIMIT 1),
		                '')
		FROM (SELECT mac, max(id) AS last, min(time) AS first FROM events WHERE mac != '' GROUP BY mac) r
		JOIN events e ON e.id = r.last
		LEFT JOIN machines m ON m.mac = r.mac
		ORDER BY e.id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []BootSummary{}
	for rows.Next() {
		var b BootSummary
		var t, first int64
		var stage string
		if err := rows.Scan(&b.Last.ID, &t, &b.Last.MAC, &b.Last.IP, &b.Last.Arch, &stage, &b.Last.Detail, &b.Last.Instance, &first,
			&b.Known, &b.Profile, &b.Hostname, &b.Loader, &b.LoaderStep, &b.Address); err != nil {
			return nil, err
		}
		b.MAC = b.Last.MAC
		b.Last.Stage = events.Stage(stage)
		b.Last.Time = time.Unix(0, t).UTC()
		b.FirstSeen = time.Unix(0, first).UTC()
		if b.Profile == "" {
			b.Profile = def
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// Timeline returns a MAC's events, oldest first (the newest `limit`).
func (s *Store) Timeline(ctx context.Context, mac string, limit int) ([]events.Event, error) {
	norm, err := hwaddr.Parse(mac)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if limit <= 0 || limit > 10000 {
		limit = 200
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, time, mac, ip, arch, stage, detail, instance FROM
		(SELECT * FROM events WHERE mac = ? ORDER BY id DESC LIMIT ?) AS newest ORDER BY id`, norm, limit)
	if err != nil {
		return nil, err
	}
	return scanEvents(rows)
}

// EventsSince returns events with ID greater than after, oldest first, so a
// live stream can catch up after a reconnect.
func (s *Store) EventsSince(ctx context.Context, after int64, limit int) ([]events.Event, error) {
	if limit <= 0 || limit > 10000 {
		limit = 1000
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, time, mac, ip, arch, stage, detail, instance FROM events WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	if err != nil {
		return nil, err
	}
	return scanEvents(rows)
}

func scanEvents(rows *sql.Rows) ([]events.Event, error) {
	defer rows.Close()
	out := []events.Event{}
	for rows.Next() {
		var e events.Event
		var t int64
		var stage string
		if err := rows.Scan(&e.ID, &t, &e.MAC, &e.IP, &e.Arch, &stage, &e.Detail, &e.Instance); err != nil {
			return nil, err
		}
		e.Time = time.Unix(0, t).UTC()
		e.Stage = events.Stage(stage)
		out = append(out, e)
	}
	return out, rows.Err()
}
