package store

import (
	"context"
	"database/sql"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// eventsChannel is the PostgreSQL notification channel migration 9's
// trigger signals on every insert into events.
const eventsChannel = "pixie_events"

// Watchable reports whether other instances can write to this store, so
// WatchEvents has something to watch (PostgreSQL: yes; SQLite: no).
func (s *Store) Watchable() bool { return s.db.pg != nil }

// WatchEvents calls changed whenever any instance sharing the store
// committed boot events, until ctx ends. It listens with PostgreSQL's
// LISTEN/NOTIFY rather than polling: the delay is the commit's, and an
// idle store costs nothing. changed is also called after every
// (re)connect, since notifications sent while the listener was away are
// lost; the caller reads what is new with EventsSince. On SQLite it
// returns at once: one instance, whose own hub already saw its events.
func (s *Store) WatchEvents(ctx context.Context, log *slog.Logger, changed func()) error {
	if s.db.pg == nil {
		return nil
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	wait := time.Second
	for {
		err := s.listen(ctx, changed)
		if ctx.Err() != nil {
			return nil
		}
		log.Warn("lost the database's event notifications: other instances' boot events reach the live stream again once it is back", "store", s.location, "retry_in", wait, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// listen holds one LISTEN connection until it fails or ctx ends.
func (s *Store) listen(ctx context.Context, changed func()) error {
	conn, err := pgx.ConnectConfig(ctx, s.db.pg.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+eventsChannel); err != nil {
		return err
	}
	changed()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		changed()
	}
}

// LastEventID is the newest event's ID (0 for none): where a watcher
// starts reading others' events from.
func (s *Store) LastEventID(ctx context.Context) (int64, error) {
	var id sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT max(id) FROM events`).Scan(&id)
	return id.Int64, err
}
