package httpboot

import (
	"bufio"
	"bytes"
	"encoding/json"
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
	"time"

	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/firmware"
)

// logBuffer collects a server's JSON log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// since returns the records written after the first n bytes, and the new
// length.
func (l *logBuffer) since(t *testing.T, n int) ([]map[string]any, int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(l.b.Bytes()[n:])), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, rec)
	}
	return out, l.b.Len()
}

// rawGet sends one GET with the request target exactly as given (no client
// cleans or escapes it) and returns the status and body.
func rawGet(t *testing.T, addr, target string) (int, []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target, addr); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %q: %v", target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// TestTraversalOverHTTP requests, over a real loopback connection, every
// kind of path that tries to leave the asset store or the firmware set.
// None may be served; each refusal must be logged and counted.
func TestTraversalOverHTTP(t *testing.T) {
	base := t.TempDir()
	assets := filepath.Join(base, "assets")
	dataDir := filepath.Join(base, "data")
	secret := []byte("SECRET-BESIDE-THE-ROOTS")
	for _, d := range []string{filepath.Join(assets, "fcos"), firmware.OverrideDir(dataDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, body := range map[string][]byte{
		filepath.Join(assets, "fcos", "vmlinuz"):                 []byte("kernel"),
		filepath.Join(firmware.OverrideDir(dataDir), "ipxe.efi"): []byte("firmware"),
		filepath.Join(base, "secret"):                            secret,
	} {
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		filepath.Join(assets, "link"):                              filepath.Join(base, "secret"),
		filepath.Join(assets, "rel"):                               "../secret",
		filepath.Join(assets, "up"):                                "..",
		filepath.Join(firmware.OverrideDir(dataDir), "escape.efi"): filepath.Join(base, "secret"),
	} {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	root, err := os.OpenRoot(assets)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	logs := &logBuffer{}
	counters := events.NewCounters()
	fw := firmware.New(dataDir, nil, nil)
	srv := New(Config{ServerURL: func() string { return "http://127.0.0.1" }}, Deps{
		Log:      slog.New(slog.NewJSONHandler(logs, nil)),
		Assets:   root,
		Firmware: fw.OpenReader,
		Events:   noEvents{},
		Counters: counters,
	})
	ts := httptest.NewServer(srv.Handler()) // listens on 127.0.0.1
	t.Cleanup(ts.Close)
	addr := strings.TrimPrefix(ts.URL, "http://")

	// The routes work, so a refusal below is a refusal and not a typo.
	for target, want := range map[string]string{"/assets/fcos/vmlinuz": "kernel", "/firmware/ipxe.efi": "firmware",
		// shim's spelling of its second stage under UEFI HTTP boot.
		"/firmware//ipxe.efi": "firmware"} {
		if code, body := rawGet(t, addr, target); code != 200 || string(body) != want {
			t.Fatalf("GET %s = %d %q", target, code, body)
		}
	}

	long := strings.Repeat("a", 4100)
	targets := []string{
		"/assets/..",
		"/assets/../",
		"/assets/../secret",
		"/assets/fcos/../../secret",
		"/assets/%2e%2e/secret",
		"/assets/%2e%2e%2fsecret",
		"/assets/..%2fsecret",
		"/assets/fcos%2f..%2f..%2fsecret",
		"/assets/%2fetc%2fpasswd",
		"/assets//etc/passwd",
		"/assets/" + filepath.Join(base, "secret"),
		"/assets/..\\secret",
		"/assets/..%5c..%5csecret",
		"/assets/fcos\\..\\..\\secret",
		"/assets/%00",
		"/assets/fcos/vmlinuz%00.txt",
		"/assets/link",
		"/assets/rel",
		"/assets/up/secret",
		"/assets/fcos",
		"/assets/" + long,
		"/assets/" + strings.Repeat("../", 1400) + "secret",
		"/firmware/..",
		"/firmware/%2e%2e%2fsecret",
		"/firmware/..%2f..%2fsecret",
		"/firmware/..%5c..%5csecret",
		"/firmware/%00",
		"/firmware/ipxe.efi%00",
		"/firmware/escape.efi",
		"/firmware/" + long,
		"/firmware/%2fetc%2fpasswd",
		"/firmware///ipxe.efi",
		"/firmware//..%2fsecret",
		"/firmware//%2e%2e/secret",
		"/firmware//escape.efi",
		"/firmware//",
		"/firmware//ipxe.efi/",
		"/assets//fcos/vmlinuz",
	}
	logged := 0
	for _, target := range targets {
		short := target
		if len(short) > 60 {
			short = short[:60] + "…"
		}
		t.Run(short, func(t *testing.T) {
			before := counters.Snapshot()
			code, body := rawGet(t, addr, target)
			if bytes.Contains(body, secret) {
				t.Fatalf("GET %q served the secret", target)
			}
			if code < 300 {
				t.Fatalf("GET %q = %d %q; want a refusal", target, code, body)
			}
			var recs []map[string]any
			recs, logged = logs.since(t, logged)
			if !mentionsRefusal(recs) {
				t.Errorf("GET %q = %d: no refusal logged (log: %v)", target, code, recs)
			}
			if !counted(before, counters.Snapshot()) {
				t.Errorf("GET %q = %d: no counter moved (%v)", target, code, counters.Snapshot())
			}
		})
	}
}

// mentionsRefusal: a warning about a refused, missing or unserved path.
func mentionsRefusal(recs []map[string]any) bool {
	for _, r := range recs {
		msg, _ := r["msg"].(string)
		if r["level"] == "WARN" && (strings.Contains(msg, "refused") || strings.Contains(msg, "not found") || strings.Contains(msg, "not served")) {
			return true
		}
	}
	return false
}

func counted(before, after map[string]uint64) bool {
	for _, name := range []string{"http.refused", "http.assets.not_found", "http.firmware.not_found"} {
		if after[name] > before[name] {
			return true
		}
	}
	return false
}
