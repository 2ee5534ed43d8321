package tftp

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pin/tftp/v3"

	"github.com/pixie-boot/pixie/daemon/events"
)

// lockedBuffer is a log destination for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the JSON log records written so far with message msg.
func (l *lockedBuffer) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// TestTraversalOverTFTP asks the real server, through a real TFTP client
// over loopback UDP, for every kind of name that tries to leave the
// firmware directory. Each must be refused (or, when the server cannot even
// read the request, ignored), logged and counted, and the secret beside the
// root must never come back.
func TestTraversalOverTFTP(t *testing.T) {
	r := fuzzRoots(t)
	secret := r.secret
	logs := &lockedBuffer{}
	counters := events.NewCounters()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	srv := New(Config{Timeout: 200 * time.Millisecond, Retries: 2}, Deps{
		Log:      slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Files:    r.set,
		Counters: counters,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeConn(ctx, conn) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("server did not stop")
		}
	})
	addr := conn.LocalAddr().String()

	// refused: the server answers with an access violation. ignored: the
	// request is longer than a TFTP datagram (516 bytes), so the server
	// never sees the end of the name and drops the packet, counted as a bad
	// packet and logged at debug level.
	// notFound: a name that is harmless but not served.
	const refused, ignored, notFound = "refused", "ignored", "not found"
	cases := []struct {
		name    string
		outcome string
	}{
		{"..", refused},
		{"../", refused},
		{"../secret", refused},
		{"../../secret", refused},
		{"../../../../../../../../../../etc/passwd", refused},
		{"/../../secret", refused},
		{"ipxe.efi/../../../secret", refused},
		{"%2e%2e", refused},
		{"%2e%2e/secret", refused},
		{"%2e%2e%2f%2e%2e%2fsecret", refused},
		{"..%2f..%2fsecret", refused},
		{"%2fetc%2fpasswd", refused},
		{"/etc/passwd", refused},
		{"//etc/passwd", refused},
		{filepath.Join(r.base, "secret"), refused}, // the secret's absolute path
		{"..\\..\\secret", refused},
		{"..\\..\\..\\windows\\win.ini", refused},
		{"\\secret", refused},
		{"C:\\secret", refused},
		{"abs.efi", refused},   // absolute symlink out of the root
		{"rel.efi", refused},   // relative symlink out of the root
		{"up/secret", refused}, // through a symlinked directory
		{"sub/nested.efi", refused},
		{"notes.txt", notFound}, // in the OS dir, but not a known name
		{strings.Repeat("a", 300), refused},
		{strings.Repeat("a", 4096), ignored},
		{strings.Repeat("../", 1400) + "secret", ignored},
	}
	var wantRefused, wantIgnored uint64
	for _, tc := range cases {
		short := tc.name
		if len(short) > 40 {
			short = short[:40] + "…"
		}
		t.Run(short, func(t *testing.T) {
			if tc.outcome == ignored {
				// pin/tftp's client cannot build a request this long (it
				// panics), so it goes out raw, as an attacker would send it.
				c := rawClient(t)
				if _, err := c.WriteToUDP(rawRRQ(tc.name, "tsize", "0"), conn.LocalAddr().(*net.UDPAddr)); err != nil {
					t.Fatal(err)
				}
				if p, _ := readPacket(t, c, 500*time.Millisecond); p != nil {
					t.Fatalf("%d-byte name answered: %q", len(tc.name), p)
				}
				wantIgnored++
				waitCount(t, counters, counterBadPacket, wantIgnored)
				if len(logs.lines(t, "TFTP packet ignored")) < int(wantIgnored) {
					t.Errorf("dropped %d-byte request not logged", len(tc.name))
				}
				return
			}
			got, _, err := get(traversalClient(t, addr), tc.name)
			if bytes.Contains(got, secret) {
				t.Fatalf("%q: the secret was served", tc.name)
			}
			switch {
			case tc.outcome == notFound:
				if err == nil || !strings.Contains(err.Error(), "file not found") {
					t.Fatalf("%q: got %d bytes, err %v; want file not found", tc.name, len(got), err)
				}
				waitCount(t, counters, counterNotFound, 1)
				if recs := logs.lines(t, "TFTP file not found"); len(recs) != 1 || recs[0]["file"] != quote(tc.name) {
					t.Errorf("%q: not-found logged as %v", tc.name, recs)
				}
			case tc.outcome == refused:
				if err == nil || !strings.Contains(err.Error(), "access violation") {
					t.Fatalf("%q: got %d bytes, err %v; want an access violation", tc.name, len(got), err)
				}
				wantRefused++
				waitCount(t, counters, counterRefused, wantRefused)
				recs := logs.lines(t, "TFTP request refused")
				last := recs[len(recs)-1]
				if last["level"] != "WARN" || last["file"] != quote(tc.name) || last["reason"] == "" || last["ip"] != "127.0.0.1" {
					t.Errorf("%q: refusal logged as %v", tc.name, last)
				}
			}
		})
	}

	// A NUL ends a TFTP file name: what follows is the mode. A name whose
	// hostile part comes first is refused on that part; the Go client
	// cannot send these, so they go out raw.
	c := rawClient(t)
	srvAddr := conn.LocalAddr().(*net.UDPAddr)
	for _, pkt := range [][]byte{
		append([]byte{0, 1}, "../secret\x00ipxe.efi\x00octet\x00"...),
		append([]byte{0, 1}, "\x00../secret\x00octet\x00"...),
		append([]byte{0, 1}, "..\x00\x00"...),
	} {
		if _, err := c.WriteToUDP(pkt, srvAddr); err != nil {
			t.Fatal(err)
		}
		p, _ := readPacket(t, c, 3*time.Second)
		if p == nil || p[1] != 5 || bytes.Contains(p, secret) {
			t.Errorf("NUL request %q: answer %q, want a TFTP error", pkt, p)
		}
		wantRefused++
		waitCount(t, counters, counterRefused, wantRefused)
	}
	if n := counters.Snapshot()[counterSent]; n != 0 {
		t.Errorf("%d files were sent", n)
	}
}

// traversalClient is a TFTP client that gives up quickly on a request the
// server drops.
func traversalClient(t *testing.T, addr string) *tftp.Client {
	t.Helper()
	c, err := tftp.NewClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetTimeout(300 * time.Millisecond)
	c.SetRetries(2)
	c.RequestTSize(true)
	return c
}

// waitCount waits until counter name reaches want; refusals are counted
// before the client hears of them, so it seldom waits.
func waitCount(t *testing.T, c *events.Counters, name string, want uint64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		got := c.Snapshot()[name]
		if got == want {
			return
		}
		if got > want || time.Now().After(deadline) {
			t.Fatalf("counter %s = %d, want %d (all: %v)", name, got, want, c.Snapshot())
		}
	}
}
