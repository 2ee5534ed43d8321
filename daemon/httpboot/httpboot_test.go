package httpboot

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/store"
)

type recorded struct {
	mu sync.Mutex
	ev []events.Event
}

func (r *recorded) Record(_ context.Context, e events.Event) {
	r.mu.Lock()
	r.ev = append(r.ev, e)
	r.mu.Unlock()
}

func (r *recorded) stages(mac string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.ev {
		if e.MAC == mac {
			out = append(out, string(e.Stage))
		}
	}
	return out
}

type fixture struct {
	url      string
	store    *store.Store
	rec      *recorded
	counters *events.Counters
	assets   string
	// onIdle, if set, is called with the server's side of a connection
	// each time a response on it is done.
	onIdle func(net.Conn)
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, "pixie.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	assets := filepath.Join(dir, "assets")
	os.MkdirAll(filepath.Join(assets, "first-time"), 0o755)
	root, err := os.OpenRoot(assets)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	f := &fixture{store: st, rec: &recorded{}, counters: events.NewCounters(), assets: assets}
	var base string
	srv := New(Config{ServerURL: func() string { return base }}, Deps{
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Store:    st,
		Assets:   root,
		Events:   f.rec,
		Counters: f.counters,
	})
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.Config.ConnContext = ConnContext // as the daemon's server does
	ts.Config.ConnState = func(c net.Conn, state http.ConnState) {
		if state == http.StateIdle && f.onIdle != nil {
			f.onIdle(c)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	base = ts.URL
	f.url = ts.URL
	return f
}

func (f *fixture) get(t *testing.T, path string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", f.url+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestChainScriptIdentifiesBootingNIC(t *testing.T) {
	f := newFixture(t)
	resp, body := f.get(t, "/boot.ipxe")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "#!ipxe\n") || !strings.Contains(body, f.url+"/ipxe?mac=${netX/mac:hexhyp}") {
		t.Fatalf("boot.ipxe = %d:\n%s", resp.StatusCode, body)
	}
	if resp.ContentLength != int64(len(body)) {
		t.Errorf("Content-Length %d, body %d bytes", resp.ContentLength, len(body))
	}
}

func TestUnknownMachineMissingKernelGetsRetryScript(t *testing.T) {
	f := newFixture(t)
	_, body := f.get(t, "/ipxe?mac=52-54-00-aa-bb-cc&arch=x86_64&platform=efi")
	for _, want := range []string{"first-time/vmlinuz", "not in pixie's asset store", "sleep 30", "chain --replace --autofree " + f.url + "/boot.ipxe"} {
		if !strings.Contains(body, want) {
			t.Errorf("script lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "\nkernel ") {
		t.Errorf("error script still tries to boot:\n%s", body)
	}
	if got := f.rec.stages("52:54:00:aa:bb:cc"); len(got) != 1 || got[0] != "error" {
		t.Errorf("events = %v, want [error]", got)
	}
}

func TestFullBootOverHTTP(t *testing.T) {
	f := newFixture(t)
	kernel := strings.Repeat("K", 100000)
	initrd := strings.Repeat("I", 5000)
	os.WriteFile(filepath.Join(f.assets, "first-time/vmlinuz"), []byte(kernel), 0o644)
	os.WriteFile(filepath.Join(f.assets, "first-time/initrd.img"), []byte(initrd), 0o644)
	const mac = "52:54:00:aa:bb:cc"

	_, script := f.get(t, "/ipxe?mac=52-54-00-AA-BB-CC&arch=x86_64&platform=efi")
	if !strings.Contains(script, "initrd=initrd.img") || !strings.Contains(script, "ignition.config.url="+f.url+"/ignition?mac=52-54-00-aa-bb-cc") {
		t.Fatalf("script:\n%s", script)
	}
	// Fetch what the script names, as iPXE would.
	var urls []string
	for _, line := range strings.Split(script, "\n") {
		fields := strings.Fields(line)
		if len(fields) > 3 && (fields[0] == "kernel" || fields[0] == "initrd") {
			urls = append(urls, fields[3])
		}
	}
	if len(urls) != 2 {
		t.Fatalf("script loads %d files, want 2:\n%s", len(urls), script)
	}
	for i, want := range []string{kernel, initrd} {
		resp, body := f.get(t, strings.TrimPrefix(urls[i], f.url))
		if resp.StatusCode != 200 || body != want || resp.ContentLength != int64(len(want)) {
			t.Errorf("GET %s = %d, %d bytes (Content-Length %d)", urls[i], resp.StatusCode, len(body), resp.ContentLength)
		}
	}
	// A byte range works and is not recorded as another download.
	resp, body := f.get(t, strings.TrimPrefix(urls[0], f.url), "Range", "bytes=10-19")
	if resp.StatusCode != http.StatusPartialContent || body != "KKKKKKKKKK" || resp.ContentLength != 10 {
		t.Errorf("range = %d %q", resp.StatusCode, body)
	}
	resp, ign := f.get(t, "/ignition?mac=52:54:00:aa:bb:cc")
	if resp.StatusCode != 200 || !strings.Contains(ign, `"version": "3.4.0"`) || resp.Header.Get("Content-Type") != "application/vnd.coreos.ignition+json" {
		t.Errorf("ignition = %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), ign)
	}
	got := f.rec.stages(mac)
	want := []string{"script", "kernel", "initrd", "ignition"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stages = %v, want %v", got, want)
	}
}

func TestAssignedProfileChangesIgnition(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.store.CreateProfile(ctx, store.Profile{Name: "worker", Kernel: "k", Ignition: `{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/etc/hostname","contents":{"source":{{json (printf "data:,%s" .Hostname)}}}}]}}`}); err != nil {
		t.Fatal(err)
	}
	_, before := f.get(t, "/ignition?mac=52:54:00:00:00:07")
	if _, err := f.store.PutMachine(ctx, store.Machine{MAC: "52:54:00:00:00:07", Profile: "worker", Hostname: "w7"}); err != nil {
		t.Fatal(err)
	}
	_, after := f.get(t, "/ignition?mac=52:54:00:00:00:07")
	if sha256.Sum256([]byte(before)) == sha256.Sum256([]byte(after)) || !strings.Contains(after, `"source":"data:,w7"`) {
		t.Errorf("before %s\nafter %s", before, after)
	}
}

func TestAssetTraversalRefused(t *testing.T) {
	f := newFixture(t)
	secret := filepath.Join(filepath.Dir(f.assets), "secret")
	os.WriteFile(secret, []byte("top secret"), 0o600)
	os.Symlink(secret, filepath.Join(f.assets, "link"))
	os.Symlink("..", filepath.Join(f.assets, "up"))
	for _, p := range []string{
		"/assets/../secret",
		"/assets/%2e%2e/secret",
		"/assets/%2e%2e%2fsecret",
		"/assets/first-time/%2e%2e/%2e%2e/secret",
		"/assets/link",
		"/assets/up/secret",
		"/assets/..%5csecret",
		"/assets/%00",
		"/assets//etc/passwd",
		"/assets/" + strings.Repeat("a/", 3000) + "x",
	} {
		req, _ := http.NewRequest("GET", f.url+p, nil)
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 || strings.Contains(string(body), "top secret") {
			t.Errorf("%s: served %d %q", p, resp.StatusCode, body)
		}
	}
	if f.counters.Snapshot()["http.refused"] == 0 {
		t.Errorf("no refusal was counted: %v", f.counters.Snapshot())
	}
}

func TestBadMACGetsExplainingScript(t *testing.T) {
	f := newFixture(t)
	_, body := f.get(t, "/ipxe?mac=zz")
	if !strings.Contains(body, "did not send a valid MAC") {
		t.Errorf("script:\n%s", body)
	}
	resp, _ := f.get(t, "/ignition?mac=")
	if resp.StatusCode != 400 {
		t.Errorf("ignition without MAC = %d", resp.StatusCode)
	}
	if f.counters.Snapshot()["http.refused.bad_mac"] != 2 {
		t.Errorf("counters %v", f.counters.Snapshot())
	}
}

// A kernel that went away after the machine's script named it: the
// download fails (the script's `|| goto failed` retries) and the machine's
// timeline says which file is missing.
func TestMissingAssetRecordsErrorEvent(t *testing.T) {
	f := newFixture(t)
	resp, _ := f.get(t, "/assets/first-time/vmlinuz?mac=52-54-00-aa-bb-cd&stage=kernel")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("missing asset: status %d, want 404", resp.StatusCode)
	}
	if got := f.rec.stages("52:54:00:aa:bb:cd"); len(got) != 1 || got[0] != "error" {
		t.Errorf("events = %v, want [error]", got)
	}
	f.rec.mu.Lock()
	defer f.rec.mu.Unlock()
	if len(f.rec.ev) != 1 || !strings.Contains(f.rec.ev[0].Detail, "first-time/vmlinuz is not in pixie's asset store") {
		t.Errorf("events: %+v", f.rec.ev)
	}
}
