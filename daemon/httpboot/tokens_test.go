package httpboot

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/store"
)

// newTokenFixture is newFixture with per-boot tokens on.
func newTokenFixture(t *testing.T, ttl time.Duration) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, "pixie.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	assets := filepath.Join(dir, "assets")
	os.MkdirAll(filepath.Join(assets, "first-time"), 0o755)
	os.WriteFile(filepath.Join(assets, "first-time/vmlinuz"), []byte("K"), 0o644)
	os.WriteFile(filepath.Join(assets, "first-time/initrd.img"), []byte("I"), 0o644)
	root, err := os.OpenRoot(assets)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	f := &fixture{store: st, rec: &recorded{}, counters: events.NewCounters(), assets: assets}
	var base string
	srv := New(Config{ServerURL: func() string { return base }, TokenTTL: ttl}, Deps{
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Store: st, Assets: root,
		Events: f.rec, Counters: f.counters, Tokens: st,
	})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	base, f.url = ts.URL, ts.URL
	return f
}

var ignURLRE = regexp.MustCompile(`ignition\.config\.url=(\S+)`)

// ignitionURLFor boots mac's script and returns the Ignition URL (path and
// query) from its kernel arguments.
func (f *fixture) ignitionURLFor(t *testing.T, mac string) string {
	t.Helper()
	_, script := f.get(t, "/ipxe?mac="+mac+"&arch=x86_64&platform=efi")
	m := ignURLRE.FindStringSubmatch(script)
	if m == nil {
		t.Fatalf("no Ignition URL in script:\n%s", script)
	}
	return strings.TrimPrefix(m[1], f.url)
}

func (f *fixture) lastEvent(mac string) events.Event {
	f.rec.mu.Lock()
	defer f.rec.mu.Unlock()
	for i := len(f.rec.ev) - 1; i >= 0; i-- {
		if f.rec.ev[i].MAC == mac {
			return f.rec.ev[i]
		}
	}
	return events.Event{}
}

func TestIgnitionTokens(t *testing.T) {
	f := newTokenFixture(t, time.Hour)
	const macA, macB = "52:54:00:00:00:0a", "52:54:00:00:00:0b"
	urlA := f.ignitionURLFor(t, "52-54-00-00-00-0a")
	if !regexp.MustCompile(`^/ignition\?mac=52-54-00-00-00-0a(&arch=[a-z0-9-]+)?&token=[A-Za-z0-9_-]{32}$`).MatchString(urlA) {
		t.Fatalf("Ignition URL %q carries no token", urlA)
	}
	if again := f.ignitionURLFor(t, "52-54-00-00-00-0a"); again == urlA {
		t.Error("every boot should get a fresh token")
	}
	resp, body := f.get(t, urlA)
	if resp.StatusCode != 200 || !strings.Contains(body, `"version"`) {
		t.Fatalf("valid token: %d %s", resp.StatusCode, body)
	}
	if e := f.lastEvent(macA); e.Stage != events.StageIgnition {
		t.Errorf("last event %+v, want ignition", e)
	}
	tokA := urlA[strings.Index(urlA, "token=")+6:]

	for _, tc := range []struct{ name, path, mac, why string }{
		{"no token", "/ignition?mac=52-54-00-00-00-0a", macA, "no token"},
		{"guessed token", "/ignition?mac=52-54-00-00-00-0a&token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", macA, "unknown token"},
		{"another machine's token", "/ignition?mac=52-54-00-00-00-0b&token=" + tokA, macB, "issued to " + macA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := f.get(t, tc.path)
			if resp.StatusCode != 403 || !strings.Contains(body, tc.why) {
				t.Errorf("%s = %d %q, want 403 saying %q", tc.path, resp.StatusCode, body, tc.why)
			}
			if strings.Contains(body, "ignition\":") {
				t.Errorf("config leaked: %s", body)
			}
			e := f.lastEvent(tc.mac)
			if e.Stage != events.StageError || !strings.Contains(e.Detail, "Ignition config refused: ") || !strings.Contains(e.Detail, tc.why) {
				t.Errorf("event %+v does not say why", e)
			}
		})
	}
	if n := f.counters.Snapshot()["http.refused.token"]; n != 3 {
		t.Errorf("refused counter = %d, want 3", n)
	}
}

func TestIgnitionTokenExpires(t *testing.T) {
	f := newTokenFixture(t, 50*time.Millisecond)
	u := f.ignitionURLFor(t, "52-54-00-00-00-0c")
	time.Sleep(80 * time.Millisecond)
	resp, body := f.get(t, u)
	if resp.StatusCode != 403 || !strings.Contains(body, "token expired") {
		t.Fatalf("expired token: %d %s", resp.StatusCode, body)
	}
	// Phone-home still takes the expired token of the same machine...
	ph := strings.Replace(u, "/ignition?", "/phone-home?", 1)
	if resp, body := f.get(t, ph); resp.StatusCode != 200 {
		t.Fatalf("phone-home: %d %s", resp.StatusCode, body)
	}
	if e := f.lastEvent("52:54:00:00:00:0c"); e.Stage != events.StageBooted {
		t.Errorf("last event %+v, want booted", e)
	}
	// ...but not another machine's.
	if resp, _ := f.get(t, strings.Replace(ph, "0c&", "0d&", 1)); resp.StatusCode != 403 {
		t.Errorf("phone-home with another MAC = %d", resp.StatusCode)
	}
}

// TestPhoneHomeURLInConfig: a config can call {{.PhoneHomeURL}}, which
// carries the same token.
func TestPhoneHomeURLInConfig(t *testing.T) {
	f := newTokenFixture(t, time.Hour)
	ctx := context.Background()
	def, _ := f.store.DefaultProfile(ctx)
	def.Ignition = "variant: fcos\nversion: 1.5.0\nsystemd:\n  units:\n    - name: pixie-phone-home.service\n      enabled: true\n      contents: |\n        [Service]\n        Type=oneshot\n        ExecStart=/usr/bin/curl -fsS -X POST {{.PhoneHomeURL}}\n        [Install]\n        WantedBy=multi-user.target\n"
	def.OS = "fedora-coreos"
	if _, err := f.store.UpdateProfile(ctx, def); err != nil {
		t.Fatal(err)
	}
	u := f.ignitionURLFor(t, "52-54-00-00-00-0e")
	_, body := f.get(t, u)
	tok := u[strings.Index(u, "token=")+6:]
	if !strings.Contains(body, "phone-home?mac=52-54-00-00-00-0e\\u0026token="+tok) && !strings.Contains(body, "phone-home%3Fmac%3D52-54-00-00-00-0e%26token%3D"+tok) {
		t.Errorf("config lacks the phone-home URL with the token:\n%s", body)
	}
}
