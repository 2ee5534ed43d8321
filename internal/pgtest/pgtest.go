// Package pgtest runs a throwaway PostgreSQL cluster for tests: initdb into
// a temporary directory, a postgres process listening only on a unix
// socket in that directory (never on a network address), one fresh
// database per test, and everything removed at the end.
//
// It uses Debian's postgresql package (/usr/lib/postgresql/*/bin). Without
// it a test is skipped with what to install, except when CI is set: there
// a missing server fails the test.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// superuser is the cluster's superuser; trust authentication over the
// socket, which only the test's user (and root) can reach.
const superuser = "pixie_test"

// PasswordUser logs in with Password only (scram-sha-256), for tests of
// how a password reaches the server; every other user is trusted.
const (
	PasswordUser = "pixie_pw"
	Password     = "pixie-test-password"
)

// dirPrefix names the cluster directories, so a crashed run's leftovers
// can be told apart and removed.
const dirPrefix = "pixie-pg-"

// Cluster is a PostgreSQL cluster started on first use and stopped by
// Stop. The zero value is ready; share one per test binary (TestMain
// calls Stop after m.Run).
type Cluster struct {
	once    sync.Once
	err     error
	dir     string
	bin     string
	cred    *syscall.Credential
	cmd     *exec.Cmd
	exited  chan struct{}
	admin   *sql.DB
	stopped bool
	mu      sync.Mutex
}

// NewDatabase returns the postgres:// URL of a new, empty database that
// is dropped when t ends. It skips t (or fails it under CI) when
// PostgreSQL is not installed.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	return c.newDatabase(t, superuser)
}

// NewPasswordDatabase is NewDatabase for a database owned by PasswordUser,
// whose URL works only with Password given beside it.
func (c *Cluster) NewPasswordDatabase(t testing.TB) string {
	t.Helper()
	return c.newDatabase(t, PasswordUser)
}

func (c *Cluster) newDatabase(t testing.TB, owner string) string {
	t.Helper()
	c.once.Do(func() { c.err = c.start() })
	if c.err != nil {
		var missing *missingError
		if errors.As(c.err, &missing) && os.Getenv("CI") == "" {
			t.Skipf("PostgreSQL half skipped: %v", c.err)
		}
		t.Fatalf("PostgreSQL test cluster: %v", c.err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.admin.ExecContext(ctx, "CREATE DATABASE "+name+" OWNER "+owner); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := c.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	return c.userURL(owner, name)
}

// Tool is the path of one of the cluster's PostgreSQL programs (pg_dump,
// pg_restore, psql); call it after NewDatabase.
func (c *Cluster) Tool(name string) string { return filepath.Join(c.bin, name) }

// URL is the postgres:// URL of database name in the cluster.
func (c *Cluster) URL(name string) string { return c.userURL(superuser, name) }

func (c *Cluster) userURL(user, name string) string {
	return fmt.Sprintf("postgres://%s@/%s?host=%s&sslmode=disable", user, name, c.dir)
}

// Stop shuts the cluster down and removes its directory. It is safe to
// call when the cluster never started.
func (c *Cluster) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped || c.cmd == nil {
		return
	}
	c.stopped = true
	if c.admin != nil {
		c.admin.Close()
	}
	// SIGINT is PostgreSQL's fast shutdown: clients are disconnected.
	c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.exited:
	case <-time.After(20 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
	}
	os.RemoveAll(c.dir)
}

// missingError says PostgreSQL is not installed.
type missingError struct{ what string }

func (e *missingError) Error() string { return e.what }

// binDir finds the newest PostgreSQL's binaries.
func binDir() (string, error) {
	if d := os.Getenv("PIXIE_PG_BIN"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err != nil {
			return "", &missingError{fmt.Sprintf("PIXIE_PG_BIN=%s has no initdb: point it at PostgreSQL's bin directory, or install PostgreSQL (`apt-get install postgresql`)", d)}
		}
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	var ok []string
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			ok = append(ok, d)
		}
	}
	if len(ok) == 0 {
		return "", &missingError{"PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): install it with `apt-get install postgresql` (or set PIXIE_PG_BIN to its bin directory)"}
	}
	sort.Slice(ok, func(i, j int) bool { return version(ok[i]) < version(ok[j]) })
	return ok[len(ok)-1], nil
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// runAs is who runs the cluster: PostgreSQL refuses to run as root, so
// root hands it to the postgres (else nobody) account.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root and there is no postgres or nobody account to run PostgreSQL as")
}

func (c *Cluster) start() error {
	bin, err := binDir()
	if err != nil {
		return err
	}
	cred, err := runAs()
	if err != nil {
		return err
	}
	c.bin = bin
	removeStale()
	// Short and in /tmp: a unix socket path is limited to ~107 bytes.
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return err
	}
	c.dir = dir
	fail := func(err error) error {
		os.RemoveAll(dir)
		return err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(err)
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", superuser, "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %v: %s", err, out))
	}
	hba := "local all " + PasswordUser + " scram-sha-256\nlocal all all trust\n"
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		return fail(err)
	}
	if cred != nil {
		if err := os.Chown(filepath.Join(data, "pg_hba.conf"), int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fail(err)
	}
	c.cred = cred
	if err := c.run(); err != nil {
		if c.cmd == nil {
			return fail(err)
		}
		c.Stop()
		return err
	}
	admin, err := sql.Open("pgx", c.URL("postgres"))
	if err != nil {
		c.Stop()
		return err
	}
	c.admin = admin
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Password is our own constant: no quoting needed.
	if _, err := admin.ExecContext(ctx, "CREATE ROLE "+PasswordUser+" LOGIN PASSWORD '"+Password+"'"); err != nil {
		c.Stop()
		return fmt.Errorf("create the password user: %v", err)
	}
	return nil
}

// run starts postgres on the cluster's data directory and waits until it
// accepts connections.
func (c *Cluster) run() error {
	logf, err := os.OpenFile(filepath.Join(c.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	// No TCP listener at all: the socket in dir is the only way in.
	// Durability is off: the cluster dies with the test.
	cmd := exec.Command(filepath.Join(c.bin, "postgres"), "-D", filepath.Join(c.dir, "data"), "-k", c.dir,
		"-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200")
	// No Pdeathsig: it fires when the OS thread that started postgres
	// exits, and tests that enter network namespaces end their locked
	// threads. A test binary that dies leaves its owner file behind, and
	// the next run stops that postgres (removeStale).
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = c.dir
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start postgres: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }()
	c.cmd, c.exited = cmd, exited
	probe, err := sql.Open("pgx", c.URL("postgres"))
	if err != nil {
		return err
	}
	defer probe.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = probe.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
			return fmt.Errorf("postgres exited at start: %s", log)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not accept connections within 30 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Restart stops the server (fast shutdown: clients are disconnected) and
// starts it again on the same data, as an administrator restarting
// PostgreSQL would. Call it after NewDatabase.
func (c *Cluster) Restart(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil || c.stopped {
		t.Fatal("pgtest: Restart of a cluster that is not running")
	}
	c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.exited:
	case <-time.After(20 * time.Second):
		t.Fatal("pgtest: postgres did not stop within 20 s")
	}
	if err := c.run(); err != nil {
		t.Fatalf("pgtest: start postgres again: %v", err)
	}
}

// removeStale stops and deletes the clusters of earlier test binaries
// that died before their cleanup (their owner.pid names a process that is
// gone).
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, d := range dirs {
		owner, err := os.ReadFile(filepath.Join(d, "owner.pid"))
		if err != nil {
			if fi, err := os.Stat(d); err != nil || time.Since(fi.ModTime()) < time.Hour {
				continue // maybe one being set up right now
			}
		} else if pid, _ := strconv.Atoi(strings.TrimSpace(string(owner))); pid > 0 && alive(pid) {
			continue // its test binary still runs
		}
		if pidFile, err := os.ReadFile(filepath.Join(d, "data", "postmaster.pid")); err == nil {
			pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(pidFile), "\n", 2)[0]))
			if pid > 0 && isPostgres(pid) {
				syscall.Kill(pid, syscall.SIGQUIT) // immediate shutdown
				for i := 0; i < 50 && syscall.Kill(pid, 0) == nil; i++ {
					time.Sleep(100 * time.Millisecond)
				}
			}
		}
		os.RemoveAll(d)
	}
}

// alive reports a running process: a killed one its parent has not reaped
// yet (a zombie) is not.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true // no /proc (macOS): trust kill
	}
	// "pid (comm) S ...": the state follows the last ')'.
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// isPostgres checks that pid is a postgres process before it is signalled:
// a stale pid file's number may belong to another process by now.
func isPostgres(pid int) bool {
	comm, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
	return err == nil && strings.TrimSpace(string(comm)) == "postgres"
}
