package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// ErrUnreachable is matched by the error of OpenWith when the PostgreSQL
// server could not be reached or refused the connection (address, auth,
// database): nothing was changed.
var ErrUnreachable = errors.New("cannot connect to the database")

// CheckPostgresURL refuses a URL that carries a password: it would show in
// `ps`, in the service file and in logs. It returns the URL for messages.
func CheckPostgresURL(location string) (string, error) {
	u, err := url.Parse(location)
	if err != nil || u.Host == "" && u.Query().Get("host") == "" {
		return "", fmt.Errorf("%w: store %q is not a postgres:// URL: write it as postgres://USER@HOST[:PORT]/DATABASE (a unix socket directory as ?host=/run/postgresql)", ErrInvalid, redactURL(location))
	}
	if _, has := u.User.Password(); has || u.Query().Has("password") {
		return "", fmt.Errorf("%w: the store URL %s carries a password, which anyone can read in `ps` and the service file: remove it and pass it with --store-password-file FILE, or in the environment (PIXIE_STORE_PASSWORD or PGPASSWORD), or in ~/.pgpass", ErrInvalid, redactURL(location))
	}
	return u.String(), nil
}

// redactURL hides a password in a URL for messages.
func redactURL(location string) string {
	u, err := url.Parse(location)
	if err != nil {
		return "(an unparsable URL)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// openPostgres connects to the PostgreSQL database at location through
// pgx's database/sql driver, so the store's queries and transactions are
// the ones SQLite runs (pgxpool would need a second copy of every method).
func openPostgres(ctx context.Context, location, password string) (*sqlDB, string, error) {
	where, err := CheckPostgresURL(location)
	if err != nil {
		return nil, where, err
	}
	cfg, err := pgx.ParseConfig(location)
	if err != nil {
		return nil, where, fmt.Errorf("%w: store %s: %v", ErrInvalid, where, err)
	}
	if password != "" {
		cfg.Password = password
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = "pixie"
	db := stdlib.OpenDB(*cfg)
	// A boot storm's writes queue in hotWrites; reads (scripts, configs)
	// run side by side up to this many connections per instance.
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, where, explainConnect(err, cfg, where)
	}
	return &sqlDB{DB: db, d: &postgresDialect, pg: cfg}, where, nil
}

// explainConnect turns a failed first connection into what was tried, why
// it failed and what to do.
func explainConnect(err error, cfg *pgx.ConnConfig, where string) error {
	target := fmt.Sprintf("PostgreSQL at %s (database %q, user %q)", net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port)), cfg.Database, cfg.User)
	if strings.HasPrefix(cfg.Host, "/") {
		target = fmt.Sprintf("PostgreSQL on the socket in %s (database %q, user %q)", cfg.Host, cfg.Database, cfg.User)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "28P01", "28000":
			return fmt.Errorf("%w: %s refused the login: %s: check the user and the password (--store-password-file, PIXIE_STORE_PASSWORD or PGPASSWORD) and the server's pg_hba.conf", ErrUnreachable, target, pe.Message)
		case "3D000":
			return fmt.Errorf("%w: %s: the database does not exist: create it (`createdb -O %s %s`) and start pixie again", ErrUnreachable, target, cfg.User, cfg.Database)
		case "42501":
			return fmt.Errorf("%w: %s: permission denied: %s: grant the user CONNECT and CREATE on the database", ErrUnreachable, target, pe.Message)
		}
		return fmt.Errorf("%w: %s: %s (SQLSTATE %s)", ErrUnreachable, target, pe.Message, pe.Code)
	}
	return fmt.Errorf("%w: %s: %v: check that the server is running and listens there (listen_addresses, port), and that no firewall is in the way", ErrUnreachable, target, unwrapConnect(err))
}

// unwrapConnect keeps the innermost reason of a connect error ("connect:
// connection refused"): pgx's message repeats the address the caller
// already names, once per attempt (TLS, then plain).
func unwrapConnect(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) && ce.Unwrap() != nil {
		return ce.Unwrap()
	}
	return err
}
