package ui

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/control/controltest"
	"github.com/pixie-boot/pixie/daemon/events"
)

// dashboard is a ui server on a loopback port in front of socket.
type dashboard struct {
	*Server
	URL string
}

func startDashboard(t *testing.T, socket string) *dashboard {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Socket: socket, Addr: ln.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(s.Handler())
	hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	t.Cleanup(hs.Close)
	return &dashboard{Server: s, URL: "http://" + ln.Addr().String()}
}

// client follows no redirects, so the login's answer can be read.
func client() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func do(t *testing.T, method, u string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// loginURL mints a login link for mac ("" for the dashboard).
func loginURL(t *testing.T, d *dashboard, mac string) string {
	t.Helper()
	u, err := d.LoginURL(mac)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

var csrfMeta = regexp.MustCompile(`name="pixie-csrf" content="([^"]+)"`)

// signIn follows a new login link and returns the session cookie header
// and the CSRF token the page carries.
func signIn(t *testing.T, d *dashboard) (cookie, csrf string) {
	t.Helper()
	resp, body := do(t, "GET", loginURL(t, d, ""), nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login: %s %s", resp.Status, body)
	}
	for _, c := range resp.Cookies() {
		if c.Name == CookieName {
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
				t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/", c)
			}
			cookie = CookieName + "=" + c.Value
		}
	}
	if cookie == "" {
		t.Fatalf("login set no %s cookie: %v", CookieName, resp.Header)
	}
	resp, body = do(t, "GET", d.URL+"/", map[string]string{"Cookie": cookie})
	m := csrfMeta.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("page after login: %s, no CSRF token:\n%s", resp.Status, body)
	}
	return cookie, m[1]
}

func TestNewRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:8088", "192.168.1.5:8088", "example.com:80", "8088"} {
		if _, err := New(Config{Socket: "/nonexistent", Addr: addr}); err == nil {
			t.Errorf("New(%q) accepted a non-loopback address", addr)
		} else if addr == "0.0.0.0:8088" && !strings.Contains(err.Error(), "ssh -L") {
			t.Errorf("New(%q): %v: want the ssh -L advice", addr, err)
		}
	}
}

func TestLoginSessionAndCSRF(t *testing.T) {
	d := controltest.Start(t, controltest.Options{AnyUID: true, Status: api.Status{Interface: "eth0", Address: "10.0.0.2"}})
	ui := startDashboard(t, d.Socket)

	// Not signed in: the page and the API say how to get in.
	resp, body := do(t, "GET", ui.URL+"/", nil)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "pixie ui") {
		t.Errorf("unsigned page: %s %s", resp.Status, body)
	}
	resp, body = do(t, "GET", ui.URL+"/api/v1/status", nil)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `"not_signed_in"`) {
		t.Errorf("unsigned API: %s %s", resp.Status, body)
	}
	// A wrong token, then the right one, then the right one again.
	resp, _ = do(t, "GET", ui.URL+"/login?token=guess", nil)
	if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
		t.Errorf("wrong token: %s, cookies %v", resp.Status, resp.Cookies())
	}
	link := loginURL(t, ui, "")
	if resp, _ := do(t, "GET", link, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("first use of the link: %s", resp.Status)
	}
	resp, body = do(t, "GET", link, nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "used already") {
		t.Errorf("the login link used twice: %s %s", resp.Status, body)
	}
	cookie, csrf := signIn(t, ui)
	// A link for a machine opens its timeline; a bad MAC just the page.
	for mac, want := range map[string]string{"52-54-00-AA-00-01": "/#timeline=52:54:00:aa:00:01", "x<script>": "/"} {
		if resp, _ := do(t, "GET", loginURL(t, ui, mac), nil); resp.Header.Get("Location") != want {
			t.Errorf("login for %q leads to %q, want %q", mac, resp.Header.Get("Location"), want)
		}
	}

	// Signed in: the page carries its CSRF token and the guarding headers.
	resp, body = do(t, "GET", ui.URL+"/", map[string]string{"Cookie": cookie})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("page: %s %s", resp.Status, body)
	}
	m := csrfMeta.FindStringSubmatch(body)
	if m == nil || m[1] != csrf {
		t.Fatalf("the page lacks its CSRF token:\n%s", body)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", csp)
	}
	if strings.Contains(body, "<script>") {
		t.Error("the page has an inline script, which its CSP forbids")
	}
	resp, body = do(t, "GET", ui.URL+"/api/v1/status", map[string]string{"Cookie": cookie})
	var st api.Status
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &st) != nil || st.Interface != "eth0" {
		t.Errorf("status through the proxy: %s %s", resp.Status, body)
	}

	_, otherCSRF := signIn(t, ui)
	// Changes need the CSRF token; the daemon stays as it was without.
	for name, hdr := range map[string]map[string]string{
		"no token":    {"Cookie": cookie},
		"wrong token": {"Cookie": cookie, CSRFHeader: "nope"},
		"other site":  {"Cookie": cookie, CSRFHeader: csrf, "Origin": "http://evil.example"},
		"cross-site":  {"Cookie": cookie, CSRFHeader: csrf, "Sec-Fetch-Site": "cross-site"},
		"no cookie":   {CSRFHeader: csrf},
		// Each browser's token works with its own cookie only.
		"another browser's token": {"Cookie": cookie, CSRFHeader: otherCSRF},
	} {
		resp, body := do(t, "POST", ui.URL+"/api/v1/pause", hdr)
		if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("pause, %s: %s %s", name, resp.Status, body)
		}
		if d.Paused.Load() {
			t.Fatalf("pause, %s: the daemon paused", name)
		}
	}
	resp, body = do(t, "POST", ui.URL+"/api/v1/pause", map[string]string{"Cookie": cookie, CSRFHeader: csrf, "Origin": ui.URL, "Sec-Fetch-Site": "same-origin"})
	if resp.StatusCode/100 != 2 || !d.Paused.Load() {
		t.Errorf("pause from the page: %s %s, paused %v", resp.Status, body, d.Paused.Load())
	}
}

// Another name for 127.0.0.1 (DNS rebinding) gets nothing, cookie or not;
// a CORS preflight gets no allowance.
func TestHostCheckAndNoCORS(t *testing.T) {
	d := controltest.Start(t, controltest.Options{AnyUID: true})
	ui := startDashboard(t, d.Socket)
	cookie, _ := signIn(t, ui)
	port := ui.URL[strings.LastIndex(ui.URL, ":")+1:]
	for _, host := range []string{"evil.example:" + port, "evil.example", "127.0.0.1:1", "10.0.0.2:" + port} {
		resp, body := do(t, "GET", ui.URL+"/api/v1/status", map[string]string{"Cookie": cookie, "Host": host})
		if resp.StatusCode != http.StatusMisdirectedRequest || strings.Contains(body, `"interface"`) {
			t.Errorf("Host %s: %s %s", host, resp.Status, body)
		}
	}
	if resp, _ := do(t, "GET", ui.URL+"/api/v1/status", map[string]string{"Cookie": cookie, "Host": "localhost:" + port}); resp.StatusCode != http.StatusOK {
		t.Errorf("Host localhost:%s: %s", port, resp.Status)
	}
	resp, _ := do(t, "OPTIONS", ui.URL+"/api/v1/pause", map[string]string{"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight: %s %v", resp.Status, resp.Header)
	}
}

// The socket's rule still decides: a user the daemon refuses gets its
// refusal through the page, and a stopped daemon is said in words.
func TestSocketDecides(t *testing.T) {
	d := controltest.Start(t, controltest.Options{AllowUID: func(uint32) bool { return false }})
	ui := startDashboard(t, d.Socket)
	cookie, _ := signIn(t, ui)
	resp, body := do(t, "GET", ui.URL+"/api/v1/machines", map[string]string{"Cookie": cookie})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "message") {
		t.Errorf("refused caller: %s %s", resp.Status, body)
	}
	d.Stop()
	resp, body = do(t, "GET", ui.URL+"/api/v1/status", map[string]string{"Cookie": cookie})
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "not answering") || !strings.Contains(body, "pixie start") {
		t.Errorf("daemon stopped: %s %s", resp.Status, body)
	}
}

// Nothing of the browser's credentials reaches the socket, and the path
// is the API's own.
func TestProxyForwardsNoCredentials(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "fake.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got *http.Request
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r
		mu.Unlock()
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Write([]byte("{}"))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(); os.Remove(sock) })
	ui := startDashboard(t, sock)
	cookie, csrf := signIn(t, ui)
	resp, _ := do(t, "PUT", ui.URL+"/api/v1/machines/52:54:00:00:00:01?x=1", map[string]string{"Cookie": cookie, CSRFHeader: csrf, "Authorization": "Bearer x", "Referer": ui.URL + "/"})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("answer %s %v", resp.Status, resp.Header)
	}
	mu.Lock()
	defer mu.Unlock()
	if got == nil {
		t.Fatal("nothing reached the socket")
	}
	if got.URL.Path != "/v1/machines/52:54:00:00:00:01" || got.URL.RawQuery != "x=1" || got.Method != "PUT" {
		t.Errorf("forwarded %s %s", got.Method, got.URL)
	}
	for _, h := range []string{"Cookie", CSRFHeader, "Authorization", "Referer", "Origin"} {
		if v := got.Header.Get(h); v != "" {
			t.Errorf("forwarded %s: %q", h, v)
		}
	}
	if r, _ := do(t, "GET", ui.URL+"/api/other", map[string]string{"Cookie": cookie}); r.StatusCode != http.StatusNotFound {
		t.Errorf("/api/other: %s", r.Status)
	}
}

// The live event stream passes through as it comes.
func TestEventStreamThroughProxy(t *testing.T) {
	d := controltest.Start(t, controltest.Options{AnyUID: true, KeepAlive: 50 * time.Millisecond})
	ui := startDashboard(t, d.Socket)
	cookie, _ := signIn(t, ui)
	req, _ := http.NewRequest("GET", ui.URL+"/api/v1/events", nil)
	req.Header.Set("Cookie", cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content type %q", ct)
	}
	d.Record(events.Event{MAC: "52:54:00:00:00:07", Stage: events.StageDHCP, Detail: "offer"})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the stream ended")
			}
			if strings.HasPrefix(l, "data:") && strings.Contains(l, "52:54:00:00:00:07") {
				return
			}
		case <-deadline:
			t.Fatal("the boot event did not come through within 5 s")
		}
	}
}

func TestStaticAssets(t *testing.T) {
	ui := startDashboard(t, "/nonexistent.sock")
	for path, ct := range map[string]string{"/static/app.js": "text/javascript", "/static/app.css": "text/css"} {
		resp, body := do(t, "GET", ui.URL+path, nil)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), ct) || len(body) < 100 {
			t.Errorf("%s: %s %q %d bytes", path, resp.Status, resp.Header.Get("Content-Type"), len(body))
		}
	}
	if resp, _ := do(t, "GET", ui.URL+"/static/missing.js", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown static file: %s", resp.Status)
	}
}
