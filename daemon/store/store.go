// Package store is pixie's single source of truth: profiles, machines,
// settings and boot events in one database — an SQLite file (WAL mode,
// foreign keys on), the default, or a PostgreSQL database several
// instances share. Schema migrations are in code, written once for both
// (see dialect.go for the little that differs).
//
// Every write happens in one transaction, so a failing write leaves the
// database as it was. Callers get typed errors (ErrNotFound, ErrExists,
// ErrInUse, ErrInvalid) they can turn into clear messages.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/mattn/go-sqlite3" // database/sql driver "sqlite3"
)

// Errors callers can test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrInUse    = errors.New("in use")
	ErrInvalid  = errors.New("invalid")
)

// DefaultProfileName is the profile a machine pixie has never been told
// about boots: the guide's "first-time" boot.
const DefaultProfileName = "first-time"

// Settings keys.
const (
	SettingDefaultProfile = "default_profile"
	SettingPaused         = "paused"
	// SettingDefaultLoader is the loader of machines on auto
	// (`pixie serve --loader`): auto, snponly, ipxe or grub.
	SettingDefaultLoader = "default_loader"
	SettingEventsMax     = "events_max"
	// SettingEventsMaxAge bounds how long boot events are kept: a Go
	// duration ("720h") or a number of days ("30d"). The newest events
	// are kept; see DefaultEventsMaxAge.
	SettingEventsMaxAge = "events_max_age"
)

// Event retention defaults: the event table keeps at most this many events
// (setting events_max) and none older than this (setting events_max_age),
// whichever limit is hit first. Both are applied at open and every
// trimEvery inserts.
const (
	DefaultEventsMax    = 100000
	DefaultEventsMaxAge = 30 * 24 * time.Hour
	trimEvery           = 500
)

// Store is an open pixie database.
type Store struct {
	db *sqlDB
	// location is where the database is, for messages: a file path or a
	// postgres:// URL without its password.
	location string
	// instance is this pixie's name, written on its boot events.
	instance string
	// eventsMax and eventsMaxAge bound the event table; read from
	// settings at open. Every trimEveryN inserts the excess is deleted.
	eventsMax    int64
	eventsMaxAge time.Duration
	trimEveryN   int64
	now          func() time.Time // the clock age retention uses (tests)

	// hotWrites queues the writes every boot makes (tokens, events) in Go.
	// SQLite lets one writer in at a time and makes the others sleep in
	// its busy handler; twenty script requests at once were slower than
	// one. A mutex hands the write lock on without the sleeps.
	hotWrites sync.Mutex
}

// Open opens (creating if needed) the database at location and brings its
// schema up to date. location is an SQLite file path, or a postgres:// (or
// postgresql://) URL naming a PostgreSQL database; see OpenWith for the
// options a shared database takes.
func Open(ctx context.Context, location string) (*Store, error) {
	return OpenWith(ctx, location, Options{})
}

// Options are the settings of OpenWith beyond the location.
type Options struct {
	// Password is PostgreSQL's password when it is not in the URL (where
	// it would show in `ps`): read from a file by the caller. Empty: the
	// driver's usual sources (PGPASSWORD, ~/.pgpass).
	Password string
	// Instance is the name recorded on every boot event this store writes
	// (an event that names its own instance keeps it).
	Instance string
}

// IsPostgres reports whether location names a PostgreSQL database rather
// than an SQLite file.
func IsPostgres(location string) bool {
	return strings.HasPrefix(location, "postgres://") || strings.HasPrefix(location, "postgresql://")
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, location string, o Options) (*Store, error) {
	var (
		db    *sqlDB
		where string
		err   error
	)
	if IsPostgres(location) {
		db, where, err = openPostgres(ctx, location, o.Password)
	} else {
		db, where, err = openSQLite(ctx, location)
	}
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, location: where, instance: o.Instance, eventsMax: DefaultEventsMax, eventsMaxAge: DefaultEventsMaxAge, trimEveryN: trimEvery, now: time.Now}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("update database schema in %s: %w", where, err)
	}
	if v, err := s.Setting(ctx, SettingEventsMax); err == nil {
		var n int64
		if _, err := fmt.Sscan(v, &n); err == nil && n > 0 {
			s.eventsMax = n
		}
	}
	if v, err := s.Setting(ctx, SettingEventsMaxAge); err == nil {
		if d, err := ParseAge(v); err == nil && d > 0 {
			s.eventsMaxAge = d
		}
	}
	// A database that sat unused for a while, or whose limits were just
	// lowered, is brought within them before serving.
	if err := s.trimEvents(ctx, 0); err != nil {
		db.Close()
		return nil, fmt.Errorf("trim old events in %s: %w", where, err)
	}
	return s, nil
}

// openSQLite opens the SQLite file at path.
func openSQLite(ctx context.Context, path string) (*sqlDB, string, error) {
	q := url.Values{}
	q.Set("_foreign_keys", "on")
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", "5000")
	q.Set("_synchronous", "NORMAL")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite3", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, path, fmt.Errorf("open database %s: %w", path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, path, fmt.Errorf("open database %s: %w", path, err)
	}
	return &sqlDB{DB: db, d: &sqliteDialect}, path, nil
}

// Location says where the database is: a file path, or a postgres:// URL
// without its password.
func (s *Store) Location() string { return s.location }

// Instance is the name this store writes on boot events ("" for none).
func (s *Store) Instance() string { return s.instance }

// Backend names the engine: "sqlite" or "postgres".
func (s *Store) Backend() string { return s.db.d.name }

// ParseAge parses an event retention age: a Go duration ("720h", "90m")
// or a whole number of days ("30d").
func ParseAge(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n < 0 || n > 100*365 {
			return 0, fmt.Errorf("%w: event age %q: want a number of days (\"30d\") or a duration (\"720h\")", ErrInvalid, v)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%w: event age %q: want a number of days (\"30d\") or a duration (\"720h\")", ErrInvalid, v)
	}
	return d, nil
}

// EventRetention returns the limits the event table is kept within.
func (s *Store) EventRetention() (max int64, maxAge time.Duration) {
	return s.eventsMax, s.eventsMaxAge
}

// SetEventRetention stores new limits for the event table (max > 0 and
// maxAge > 0; a zero leaves that limit as it is) and applies them at once.
func (s *Store) SetEventRetention(ctx context.Context, max int64, maxAge time.Duration) error {
	if max < 0 || maxAge < 0 {
		return fmt.Errorf("%w: event limits must not be negative", ErrInvalid)
	}
	if max > 0 {
		if err := s.SetSetting(ctx, SettingEventsMax, strconv.FormatInt(max, 10)); err != nil {
			return err
		}
		s.eventsMax = max
	}
	if maxAge > 0 {
		if err := s.SetSetting(ctx, SettingEventsMaxAge, maxAge.String()); err != nil {
			return err
		}
		s.eventsMaxAge = maxAge
	}
	return s.trimEvents(ctx, 0)
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// IntegrityCheck runs SQLite's integrity_check and returns its verdict
// ("ok" when healthy). On PostgreSQL, which checks its own pages, it says
// "ok" when the schema answers.
func (s *Store) IntegrityCheck(ctx context.Context) (string, error) {
	var res string
	err := s.db.QueryRowContext(ctx, s.db.d.integrityCheck).Scan(&res)
	return res, err
}

// migration is one schema step, written in SQLite's DDL and turned into
// PostgreSQL's by the dialect (postgresDDL); postgres, when set, replaces
// it there for a step that cannot be translated.
type migration struct {
	sql      string
	postgres string
}

// migrations are applied in order; the dialect records how many ran
// (SQLite: PRAGMA user_version; PostgreSQL: table pixie_schema). Never
// edit a released migration: append a new one.
var migrations = []migration{
	{sql: `
CREATE TABLE profiles (
	name        TEXT PRIMARY KEY,
	description TEXT NOT NULL DEFAULT '',
	os          TEXT NOT NULL DEFAULT 'generic',
	kernel      TEXT NOT NULL DEFAULT '',
	initrds     TEXT NOT NULL DEFAULT '[]',
	args        TEXT NOT NULL DEFAULT '',
	ignition    TEXT NOT NULL DEFAULT '',
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
);
CREATE TABLE machines (
	mac        TEXT PRIMARY KEY,
	profile    TEXT REFERENCES profiles(name) ON UPDATE CASCADE ON DELETE RESTRICT,
	hostname   TEXT NOT NULL DEFAULT '',
	vars       TEXT NOT NULL DEFAULT '{}',
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
CREATE TABLE events (
	id     INTEGER PRIMARY KEY AUTOINCREMENT,
	time   INTEGER NOT NULL,
	mac    TEXT NOT NULL DEFAULT '',
	ip     TEXT NOT NULL DEFAULT '',
	arch   TEXT NOT NULL DEFAULT '',
	stage  TEXT NOT NULL,
	detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_mac_id ON events(mac, id);
`},
	// 2: a machine's own config (merged over its profile's), and the
	// per-boot tokens that guard /ignition.
	{sql: `
ALTER TABLE machines ADD COLUMN ignition TEXT NOT NULL DEFAULT '';
CREATE TABLE boot_tokens (
	hash       TEXT PRIMARY KEY,
	mac        TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
CREATE INDEX boot_tokens_mac ON boot_tokens(mac);
`},
	// 3: a profile's phone-home URL ('default': pixie's own /phone-home,
	// what {{.PhoneHomeURL}} meant before; 'none'; or a URL template) and
	// its template variables.
	{sql: `
ALTER TABLE profiles ADD COLUMN phone_home TEXT NOT NULL DEFAULT 'default';
ALTER TABLE profiles ADD COLUMN vars TEXT NOT NULL DEFAULT '{}';
`},
	// 4: a machine's first-stage loader (auto, snponly, ipxe, grub) and the
	// ladder rung auto reached, with why and when.
	{sql: `
ALTER TABLE machines ADD COLUMN loader TEXT NOT NULL DEFAULT 'auto';
ALTER TABLE machines ADD COLUMN loader_step TEXT NOT NULL DEFAULT '';
ALTER TABLE machines ADD COLUMN loader_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE machines ADD COLUMN loader_step_at INTEGER NOT NULL DEFAULT 0;
`},
	// 5: the newest Ignition spec a profile's OS reads ('' : from its OS
	// kind).
	{sql: `
ALTER TABLE profiles ADD COLUMN ignition_spec TEXT NOT NULL DEFAULT '';
`},
	// 6: full-DHCP mode's leases, one row per address ever handed out
	// (so the table is bounded by the pool, not by the MACs seen), and a
	// machine's reserved address, gateway and DNS servers.
	{sql: `
CREATE TABLE leases (
	ip         TEXT PRIMARY KEY,
	mac        TEXT NOT NULL DEFAULT '',
	state      TEXT NOT NULL,
	expires_at INTEGER NOT NULL,
	hostname   TEXT NOT NULL DEFAULT '',
	updated_at INTEGER NOT NULL
);
CREATE INDEX leases_mac ON leases(mac);
ALTER TABLE machines ADD COLUMN ip TEXT NOT NULL DEFAULT '';
ALTER TABLE machines ADD COLUMN ip_prefix INTEGER NOT NULL DEFAULT 0;
ALTER TABLE machines ADD COLUMN gateway TEXT NOT NULL DEFAULT '';
ALTER TABLE machines ADD COLUMN dns TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX machines_ip ON machines(ip) WHERE ip != '';
`},
	// 7: boot tokens get an ID giving their issue order (the per-MAC and
	// global trims drop the oldest first); SQLite's rowid did that, and
	// PostgreSQL has none. The table is rebuilt, in issue order.
	{sql: `
CREATE TABLE boot_tokens_new (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	hash       TEXT NOT NULL UNIQUE,
	mac        TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
INSERT INTO boot_tokens_new(hash, mac, created_at, expires_at)
	SELECT hash, mac, created_at, expires_at FROM boot_tokens ORDER BY created_at, hash;
DROP TABLE boot_tokens;
ALTER TABLE boot_tokens_new RENAME TO boot_tokens;
CREATE INDEX boot_tokens_mac ON boot_tokens(mac, id);
`},
	// 8: the instance that recorded each boot event (several instances
	// may share one PostgreSQL store); '' for events from before.
	{sql: `
ALTER TABLE events ADD COLUMN instance TEXT NOT NULL DEFAULT '';
`},
	// 9: PostgreSQL tells listening instances that events were added
	// (WatchEvents); one notification per transaction, whatever it held.
	// SQLite has one instance: nothing to tell.
	{sql: `SELECT 1;`, postgres: `
CREATE FUNCTION pixie_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('pixie_events', '');
	RETURN NULL;
END $$;
CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION pixie_events_notify();
`},
}

// seed is what a brand-new database starts with: the default profile, so a
// fresh `pixie serve` answers unknown machines at once.
func (s *Store) seed(ctx context.Context, tx *sqlTx) error {
	now := time.Now().UnixNano()
	_, err := tx.ExecContext(ctx, `INSERT INTO profiles(name, description, os, kernel, initrds, args, ignition, created_at, updated_at)
		VALUES(?, ?, 'generic', ?, ?, ?, ?, ?, ?)`,
		DefaultProfileName,
		"Default profile for machines pixie does not know yet",
		"first-time/vmlinuz", `["first-time/initrd.img"]`,
		"console=tty0 console=ttyS0 ignition.firstboot ignition.platform.id=metal ignition.config.url={{.IgnitionURL}}",
		defaultIgnition, now, now)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO settings(key, value) VALUES(?, ?)`, SettingDefaultProfile, DefaultProfileName)
	return err
}

// defaultIgnition sets the hostname, like the guide's first-time config.
const defaultIgnition = `{
  "ignition": {"version": "3.4.0"},
  "storage": {
    "files": [{
      "path": "/etc/hostname",
      "mode": 420,
      "overwrite": true,
      "contents": {"source": "data:,first-time"}
    }]
  }
}
`

func (s *Store) migrate(ctx context.Context) error {
	d := s.db.d
	// One transaction per step: a failed step leaves the schema at the one
	// before. The version is read inside it, under the dialect's lock, so
	// two instances starting together against one new PostgreSQL database
	// run each step once.
	for {
		done, err := s.migrateStep(ctx, d)
		if err != nil || done {
			return err
		}
	}
}

// migrateStep applies the next migration, or reports done.
func (s *Store) migrateStep(ctx context.Context, d *dialect) (done bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	version, err := d.schemaVersion(ctx, tx)
	if err != nil {
		return false, err
	}
	if version > len(migrations) {
		return false, fmt.Errorf("database schema version %d is newer than this pixie knows (%d): upgrade pixie", version, len(migrations))
	}
	if version == len(migrations) {
		return true, tx.Commit()
	}
	m := migrations[version]
	q := d.ddl(m.sql)
	if m.postgres != "" && d == &postgresDialect {
		q = m.postgres
	}
	if _, err := tx.ExecContext(ctx, q); err != nil {
		return false, fmt.Errorf("migration %d: %w", version+1, err)
	}
	if version == 0 {
		if err := s.seed(ctx, tx); err != nil {
			return false, fmt.Errorf("seed: %w", err)
		}
	}
	if err := d.setSchemaVersion(ctx, tx, version+1); err != nil {
		return false, err
	}
	return false, tx.Commit()
}

// Setting returns the value of key, or ErrNotFound.
func (s *Store) Setting(ctx context.Context, key string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("setting %q: %w", key, ErrNotFound)
	}
	return v, err
}

// SetSetting stores value under key.
func (s *Store) SetSetting(ctx context.Context, key, value string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO settings(key, value) VALUES(?, ?)
		ON CONFLICT(key) DO UPDATE SET value = excluded.value`, key, value)
	return diskFull(err)
}
