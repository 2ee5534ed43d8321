// Package controltest runs pixie's control API on a real Unix socket in
// front of a real SQLite store, for the tests of the programs that talk to
// the daemon (the CLI, the menu-bar app). The boot servers are not there:
// a test plays them by recording events, and sets what status reports.
//
// A Daemon can be stopped and started again on the same socket, keeping
// its database, as a restarted service does.
package controltest

import (
	"context"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/control"
	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/images"
	"github.com/pixie-boot/pixie/daemon/pulls"
	"github.com/pixie-boot/pixie/daemon/store"
)

// Options shape the daemon.
type Options struct {
	// Status is what the daemon reports; Serving and Paused are filled in
	// from the daemon's state.
	Status api.Status
	// AnyUID lets every caller in, whatever its uid and groups; otherwise
	// the socket's group is the test process's own group.
	AnyUID bool
	// AllowUID, if set, decides who may call instead (tests of a caller
	// the socket refuses); it wins over AnyUID.
	AllowUID func(uid uint32) bool
	// KeepAlive is the event stream's keep-alive interval (default 1s).
	KeepAlive time.Duration
	// Log receives the control server's log (nil discards).
	Log *slog.Logger
	// Puller, if set, adjusts every image pull's puller (point its DNS
	// and proxy at local fixtures).
	Puller func(*images.Puller)
}

// Daemon is the control side of a pixie daemon.
type Daemon struct {
	Socket string
	Store  *store.Store
	// DataDir is the daemon's data directory; image pulls write into its
	// assets/ folder.
	DataDir string
	// Pulls runs the daemon's image pulls.
	Pulls *pulls.Manager
	// Paused is the daemon's pause switch, as pause/resume set it.
	Paused atomic.Bool

	t    testing.TB
	opts Options

	mu     sync.Mutex
	hub    *events.Hub
	cancel context.CancelFunc
	done   chan error
}

// New opens a store in a temporary directory and returns a daemon that is
// not yet serving. It skips the test when the store cannot work here
// (a build without cgo has no SQLite).
func New(t testing.TB, opts Options) *Daemon {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "pixie.db"))
	if err != nil {
		if strings.Contains(err.Error(), "cgo") {
			t.Skipf("the daemon's store needs cgo (SQLite): %v", err)
		}
		t.Fatal(err)
	}
	// Not t.TempDir: its path, test name included, can pass the 108
	// bytes a Unix socket path may have.
	dir, err := os.MkdirTemp("", "pixie-ctl")
	if err != nil {
		t.Fatal(err)
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.KeepAlive == 0 {
		opts.KeepAlive = time.Second
	}
	data := t.TempDir()
	pctx, stopPulls := context.WithCancel(context.Background())
	d := &Daemon{t: t, opts: opts, Store: st, Socket: filepath.Join(dir, "pixie.sock"), DataDir: data,
		Pulls: pulls.New(pctx, pulls.Config{Assets: filepath.Join(data, "assets"), Configure: opts.Puller, Log: opts.Log})}
	t.Cleanup(func() {
		d.Stop()
		stopPulls()
		d.Pulls.Wait()
		st.Close()
		os.RemoveAll(dir)
	})
	return d
}

// Start returns a new daemon, serving.
func Start(t testing.TB, opts Options) *Daemon {
	t.Helper()
	d := New(t, opts)
	d.Start()
	return d
}

// Start serves the control API on the socket.
func (d *Daemon) Start() {
	d.t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cancel != nil {
		d.t.Fatal("controltest: daemon already running")
	}
	group := ""
	if !d.opts.AnyUID {
		g, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
		if err != nil {
			d.t.Fatal(err)
		}
		group = g.Name
	}
	d.hub = events.NewHub(d.Store, d.opts.Log)
	deps := control.Deps{
		Store: d.Store,
		Hub:   d.hub,
		Status: func() api.Status {
			st := d.opts.Status
			st.Paused = d.Paused.Load()
			st.Serving = !st.Paused
			return st
		},
		SetPaused: func(_ context.Context, p bool) error { d.Paused.Store(p); return nil },
		Pulls:     d.Pulls,
		Log:       d.opts.Log,
		KeepAlive: d.opts.KeepAlive,
	}
	if d.opts.AnyUID {
		deps.AllowUID = func(uint32) bool { return true }
		group = "pixie-test-no-such-group"
	}
	if d.opts.AllowUID != nil {
		deps.AllowUID = d.opts.AllowUID
		group = "pixie-test-no-such-group"
	}
	srv := control.New(deps)
	ln, err := srv.Listen(d.Socket, group)
	if err != nil {
		d.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel, d.done = cancel, make(chan error, 1)
	go func() { d.done <- srv.Serve(ctx, ln) }()
}

// Stop stops serving (the socket goes away); the store stays open.
func (d *Daemon) Stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cancel == nil {
		return
	}
	d.cancel()
	select {
	case err := <-d.done:
		if err != nil {
			d.t.Errorf("controltest: Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		d.t.Error("controltest: Serve did not stop")
	}
	d.hub.Close()
	d.cancel = nil
}

// Record records a boot event the way the boot servers do.
func (d *Daemon) Record(e events.Event) {
	d.mu.Lock()
	hub := d.hub
	d.mu.Unlock()
	if hub == nil {
		d.t.Fatal("controltest: Record on a daemon that never started")
	}
	hub.Record(context.Background(), e)
}
