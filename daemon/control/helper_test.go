package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
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
	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/store"
)

// testEnv is a control server on a real Unix socket in front of a real
// store in a temporary SQLite file.
type testEnv struct {
	store  *store.Store
	hub    *events.Hub
	client *api.Client
	socket string
	logs   *syncBuffer

	paused    atomic.Bool
	setPaused atomic.Int32 // SetPaused calls
}

// startServer starts a server; tweak may adjust its Deps.
func startServer(t *testing.T, tweak func(*Deps)) *testEnv {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "pixie.db"))
	if err != nil {
		t.Fatal(err)
	}
	env := &testEnv{store: st, logs: &syncBuffer{}}
	log := slog.New(slog.NewTextHandler(env.logs, nil))
	env.hub = events.NewHub(st, log)
	deps := Deps{
		Store: st,
		Hub:   env.hub,
		Status: func() api.Status {
			return api.Status{Serving: true, Paused: env.paused.Load(), Version: "test"}
		},
		SetPaused: func(_ context.Context, p bool) error {
			env.setPaused.Add(1)
			env.paused.Store(p)
			return nil
		},
		Log:       log,
		KeepAlive: 50 * time.Millisecond,
	}
	if tweak != nil {
		tweak(&deps)
	}
	srv := New(deps)
	env.socket = filepath.Join(shortTempDir(t), "pixie.sock")
	ln, err := srv.Listen(env.socket, currentGroup(t))
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after cancel")
		}
		env.hub.Close()
		st.Close()
	})
	env.client = api.NewClient(env.socket)
	return env
}

// shortTempDir returns a temporary directory with a short path: Unix socket
// paths are limited to about 100 bytes, and t.TempDir's include the test name.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pixie")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// currentGroup is the test process's group, so the test's own calls pass the
// group check whether or not it runs as root.
func currentGroup(t *testing.T) string {
	t.Helper()
	g, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	if err != nil {
		t.Fatalf("look up own group: %v", err)
	}
	return g.Name
}

// raw sends a request as is, for what the typed client cannot send.
func (e *testEnv) raw(t *testing.T, method, path string, body io.Reader) (int, api.Error) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", e.socket)
		},
	}}
	req, err := http.NewRequest(method, "http://pixie"+path, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ae api.Error
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		if err := json.Unmarshal(b, &ae); err != nil {
			t.Errorf("%s %s: error body is not JSON: %q", method, path, b)
		}
	}
	return resp.StatusCode, ae
}

// wantAPIError checks err is an *api.Error with that status and code and a
// message containing msg.
func wantAPIError(t *testing.T, what string, err error, status int, code, msg string) {
	t.Helper()
	var ae *api.Error
	if !errors.As(err, &ae) {
		t.Errorf("%s: err = %v (%T), want *api.Error %d %s", what, err, err, status, code)
		return
	}
	if ae.Status != status || ae.Code != code || !strings.Contains(ae.Message, msg) {
		t.Errorf("%s: got %d %s %q, want %d %s containing %q", what, ae.Status, ae.Code, ae.Message, status, code, msg)
	}
}

// syncBuffer is a log destination safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
