package tray

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/control/controltest"
	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/store"
	"github.com/pixie-boot/pixie/tray/menu"
)

// testDaemon is the daemon's control API on a real Unix socket, in front
// of a real store: it can be stopped and started again on the same path,
// keeping its database, like a restarted service.
type testDaemon struct{ *controltest.Daemon }

func newTestDaemon(t *testing.T) *testDaemon {
	t.Helper()
	return &testDaemon{controltest.New(t, controltest.Options{
		Status: api.Status{Interface: "en5", Address: "10.2.0.200", DataDir: "/var/lib/pixie"},
	})}
}

// record records a boot event the way the boot servers do.
func (d *testDaemon) record(mac string, stage events.Stage) {
	d.Record(events.Event{MAC: mac, IP: "10.2.0.50", Arch: "efi-x64", Stage: stage})
}

// countingClient counts status reads.
type countingClient struct {
	*api.Client
	status atomic.Int32
}

func (c *countingClient) Status(ctx context.Context) (api.Status, error) {
	c.status.Add(1)
	return c.Client.Status(ctx)
}

// nopDesktop does nothing and says so.
type nopDesktop struct{}

func (nopDesktop) CopyText(context.Context, string) error         { return nil }
func (nopDesktop) Open(context.Context, string) error             { return nil }
func (nopDesktop) ShowText(context.Context, string, string) error { return nil }
func (nopDesktop) ShowLogs(context.Context) error                 { return nil }
func (nopDesktop) InstallService(context.Context) error           { return nil }

// run starts a controller on socket until the test ends.
func run(t *testing.T, client Client, tweak func(*Config)) *Controller {
	t.Helper()
	cfg := Config{Client: client, Desktop: nopDesktop{}, DataDir: "/var/lib/pixie",
		Retry: 50 * time.Millisecond, MaxRetry: 500 * time.Millisecond, Log: slog.New(slog.NewTextHandler(testWriter{t}, nil))}
	if tweak != nil {
		tweak(&cfg)
	}
	c := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return c
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// waitFor waits until cond holds for the controller's menu, and returns
// how long that took.
func waitFor(t *testing.T, c *Controller, within time.Duration, what string, cond func(menu.Menu) bool) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		if m := c.Menu(); cond(m) {
			return time.Since(start)
		}
		select {
		case <-c.Changed():
		case <-time.After(20 * time.Millisecond):
		case <-deadline.C:
			line, _ := menu.StatusLine(c.State())
			t.Fatalf("after %v: want %s; the menu says %q", within, what, line)
		}
	}
}

func statusIs(line string) func(menu.Menu) bool {
	return func(m menu.Menu) bool { return m.Items[0].Title == line }
}

func lists(mac string) func(menu.Menu) bool {
	return func(m menu.Menu) bool {
		for _, it := range m.Items {
			if strings.HasPrefix(it.Title, mac+" ") {
				return true
			}
		}
		return false
	}
}

func TestBootAppearsWithinASecond(t *testing.T) {
	d := newTestDaemon(t)
	d.Start()
	// No polling to help: only the event stream can bring the boot in.
	c := run(t, api.NewClient(d.Socket), func(cfg *Config) { cfg.Poll = time.Hour })
	waitFor(t, c, 5*time.Second, "serving", statusIs("Serving on en5 · 10.2.0.200"))
	// The stream is connected once the first refresh after it came in.
	time.Sleep(200 * time.Millisecond)

	const mac = "90:2b:34:14:f6:6a"
	d.record(mac, events.StageDHCP)
	took := waitFor(t, c, time.Second, "the booted MAC listed", lists(mac))
	t.Logf("boot event shown after %v", took)

	d.record(mac, events.StageIgnition)
	waitFor(t, c, time.Second, "Ignition reached", func(m menu.Menu) bool {
		return lists(mac)(m) && strings.Contains(m.Items[4].Title, "Ignition ✓")
	})
}

func TestDaemonGoesAwayAndComesBack(t *testing.T) {
	d := newTestDaemon(t)
	// The tray starts first: no socket yet.
	c := run(t, api.NewClient(d.Socket), nil)
	waitFor(t, c, 2*time.Second, "not running", statusIs(menu.StatusNotRunning))

	d.Start()
	waitFor(t, c, 5*time.Second, "serving", statusIs("Serving on en5 · 10.2.0.200"))
	d.record("52:54:00:12:34:56", events.StageTFTP)
	waitFor(t, c, time.Second, "the MAC listed", lists("52:54:00:12:34:56"))

	d.Stop()
	took := waitFor(t, c, 3*time.Second, "not running", statusIs(menu.StatusNotRunning))
	t.Logf("daemon stop noticed after %v", took)
	if m := c.Menu(); lists("52:54:00:12:34:56")(m) || m.Items[1].Enabled || m.On {
		t.Errorf("daemon down, but the menu still offers machines, the toggle or the on icon:\n%+v", m)
	}

	d.Start()
	took = waitFor(t, c, 5*time.Second, "serving again", func(m menu.Menu) bool {
		return statusIs("Serving on en5 · 10.2.0.200")(m) && lists("52:54:00:12:34:56")(m)
	})
	t.Logf("daemon restart noticed after %v", took)

	// And the new stream works.
	d.record("52:54:00:ab:cd:ef", events.StageDHCP)
	waitFor(t, c, time.Second, "a boot after the restart", lists("52:54:00:ab:cd:ef"))
}

func TestBurstsAreCoalesced(t *testing.T) {
	d := newTestDaemon(t)
	d.Start()
	client := &countingClient{Client: api.NewClient(d.Socket)}
	c := run(t, client, func(cfg *Config) { cfg.Poll = time.Hour })
	waitFor(t, c, 5*time.Second, "serving", statusIs("Serving on en5 · 10.2.0.200"))
	time.Sleep(300 * time.Millisecond)

	before := client.status.Load()
	start := time.Now()
	for i := range 200 {
		d.record(fmt.Sprintf("52:54:00:00:%02x:%02x", i/256, i%256), events.StageDHCP)
	}
	waitFor(t, c, 2*time.Second, "the last MAC listed", lists("52:54:00:00:00:c7"))
	time.Sleep(500 * time.Millisecond) // let any trailing refresh happen
	reads := client.status.Load() - before
	elapsed := time.Since(start)
	// One read per MinInterval (250ms), plus one at each edge.
	if limit := int32(elapsed/(250*time.Millisecond)) + 2; reads > limit {
		t.Errorf("200 events in %v caused %d status reads, want at most %d", elapsed, reads, limit)
	}
	t.Logf("200 events in %v: %d status reads", elapsed, reads)
}

func TestClicksReachTheDaemon(t *testing.T) {
	d := newTestDaemon(t)
	d.Start()
	c := run(t, api.NewClient(d.Socket), nil)
	const mac = "90:2b:34:14:f6:6a"
	d.record(mac, events.StageDHCP)
	waitFor(t, c, 5*time.Second, "the MAC listed", lists(mac))
	ctx := context.Background()

	c.Click(ctx, c.Menu().Items[1].Action) // the toggle
	waitFor(t, c, time.Second, "paused", statusIs(menu.StatusPaused))
	if !d.Paused.Load() {
		t.Error("the daemon was not paused")
	}
	if m := c.Menu(); m.On || m.Items[1].Checked || m.Items[1].Action.Kind != menu.Resume {
		t.Errorf("paused menu: icon on %v, toggle %+v", m.On, m.Items[1])
	}
	c.Click(ctx, c.Menu().Items[1].Action)
	waitFor(t, c, time.Second, "serving", statusIs("Serving on en5 · 10.2.0.200"))

	c.Click(ctx, menu.Action{Kind: menu.AssignProfile, MAC: mac, Profile: store.DefaultProfileName})
	waitFor(t, c, time.Second, "Forget enabled (the machine is known now)", func(m menu.Menu) bool {
		return m.Items[4].Children[4].Enabled
	})
	if m, err := d.Store.Machine(ctx, mac); err != nil || m.Profile != store.DefaultProfileName {
		t.Errorf("machine = %+v, %v", m, err)
	}

	// A failing click shows why, and does not break anything.
	c.Click(ctx, menu.Action{Kind: menu.AssignProfile, MAC: mac, Profile: "no-such-profile"})
	waitFor(t, c, time.Second, "a notice", func(m menu.Menu) bool {
		for _, it := range m.Items {
			if strings.HasPrefix(it.Title, "⚠ Could not assign no-such-profile to "+mac) {
				return true
			}
		}
		return false
	})

	c.Click(ctx, menu.Action{Kind: menu.ForgetMachine, MAC: mac})
	waitFor(t, c, time.Second, "Forget disabled again", func(m menu.Menu) bool {
		return !m.Items[4].Children[4].Enabled
	})
}

// TestSurvivesAGarbledDaemon runs the controller against something on the
// socket that answers nonsense: errors, broken JSON, a broken event
// stream, unknown events. It must keep saying what it can and not panic.
func TestSurvivesAGarbledDaemon(t *testing.T) {
	dir, err := os.MkdirTemp("", "pixie-tray")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	socket := filepath.Join(dir, "pixie.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	var streams atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"serving": true, "interface": "en5", "address": "10.2.0.200"}`)
	})
	mux.HandleFunc("GET /v1/boots", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `[{"mac": "90:2b:34:14:f6:6a", "last": {"stage": "warp"`) // cut short
	})
	mux.HandleFunc("GET /v1/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		switch streams.Add(1) % 3 {
		case 1: // an event nobody has heard of, then a bad one
			io.WriteString(w, "event: reboot-the-moon\ndata: {}\n\nevent: boot\ndata: {\"id\": 1, \"stage\": \"warp\"}\n\ndata: not json\n\n")
		case 2: // closed at once
		default:
			http.Error(w, "no", http.StatusTeapot)
		}
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()

	c := run(t, api.NewClient(socket), func(cfg *Config) { cfg.MaxRetry = 100 * time.Millisecond })
	waitFor(t, c, 3*time.Second, "an error shown", func(m menu.Menu) bool {
		return m.Items[0].Title == "Service error" && strings.Contains(m.Items[0].Tooltip, "read the pixie daemon's answer")
	})
	// Let it go round the reconnect loop a few times.
	deadline := time.Now().Add(3 * time.Second)
	for streams.Load() < 6 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := streams.Load(); n < 6 {
		t.Errorf("only %d stream attempts", n)
	}
}

// The "Start at login" toggle reads and changes the login item through
// the Config's functions, and shows the new state after a click.
func TestLoginItemToggleClick(t *testing.T) {
	d := newTestDaemon(t)
	d.Start()
	var mu sync.Mutex
	on := false
	c := run(t, api.NewClient(d.Socket), func(cfg *Config) {
		cfg.LoginItem = func() (bool, bool) { mu.Lock(); defer mu.Unlock(); return on, true }
		cfg.SetLoginItem = func(v bool) error { mu.Lock(); defer mu.Unlock(); on = v; return nil }
	})
	toggle := func(m menu.Menu) (menu.Item, bool) {
		for _, it := range m.Items {
			if it.Title == menu.TitleLoginItem && !it.Hidden {
				return it, true
			}
		}
		return menu.Item{}, false
	}
	waitFor(t, c, 5*time.Second, "the toggle shown, off", func(m menu.Menu) bool {
		it, ok := toggle(m)
		return ok && !it.Checked
	})
	it, _ := toggle(c.Menu())
	c.Click(context.Background(), it.Action)
	waitFor(t, c, 5*time.Second, "the toggle checked", func(m menu.Menu) bool {
		it, ok := toggle(m)
		return ok && it.Checked && it.Action.Kind == menu.LoginItemOff
	})
	mu.Lock()
	defer mu.Unlock()
	if !on {
		t.Error("the click did not turn the login item on")
	}
}
