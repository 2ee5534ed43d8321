package tftp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pin/tftp/v3"

	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/firmware"
)

const testMAC = "52:54:00:12:34:56"

// recorder collects boot events.
type recorder struct {
	mu     sync.Mutex
	events []events.Event
}

func (r *recorder) Record(_ context.Context, e events.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) all() []events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]events.Event(nil), r.events...)
}

// logs collects log records, so tests can check levels and attributes.
type logs struct {
	mu      sync.Mutex
	records []logRecord
}

type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

type logHandler struct {
	l     *logs
	attrs []slog.Attr
}

func (h logHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return logHandler{l: h.l, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}
func (h logHandler) WithGroup(string) slog.Handler { return h }
func (h logHandler) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range h.attrs {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	h.l.mu.Lock()
	h.l.records = append(h.l.records, rec)
	h.l.mu.Unlock()
	return nil
}

func (l *logs) find(msg string) []logRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []logRecord
	for _, r := range l.records {
		if r.msg == msg {
			out = append(out, r)
		}
	}
	return out
}

// wait waits for a record with message msg.
func (l *logs) wait(t testing.TB, msg string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); len(l.find(msg)) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no log %q", msg)
		}
	}
}

// env is a running server on loopback with its fake firmware.
type env struct {
	addr     string // 127.0.0.1:port
	dataDir  string
	outside  string // a directory outside every firmware source
	files    map[string][]byte
	counters *events.Counters
	events   *recorder
	logs     *logs
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// fakeFirmware writes small stand-ins for the iPXE files into a data dir's
// firmware directory, plus a secret outside it and a symlink escaping to it.
func fakeFirmware(t testing.TB) (dataDir, outside string, files map[string][]byte) {
	t.Helper()
	base := t.TempDir()
	dataDir, outside = filepath.Join(base, "data"), filepath.Join(base, "outside")
	fw := firmware.OverrideDir(dataDir)
	files = map[string][]byte{
		"undionly.kpxe":  randomBytes(74213, 1),
		"ipxe.efi":       randomBytes(300001, 2),
		"snponly.efi":    randomBytes(512*64, 3), // a multiple of 512: ends with an empty block
		"ipxe-arm64.efi": randomBytes(1468*3, 4), // a multiple of 1468 too
	}
	for _, d := range []string{fw, outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(fw, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("SECRET"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(fw, "escape.efi")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../outside/secret", filepath.Join(fw, "escape2.efi")); err != nil {
		t.Fatal(err)
	}
	return dataDir, outside, files
}

func start(t testing.TB, files Files, cfg Config) *env {
	t.Helper()
	return startWith(t, files, nil, cfg)
}

func startWith(t testing.TB, files Files, gen Generated, cfg Config, tweak ...func(*Server)) *env {
	t.Helper()
	e := &env{counters: events.NewCounters(), events: &recorder{}, logs: &logs{}}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	e.addr = conn.LocalAddr().String()
	if cfg.Timeout == 0 {
		cfg.Timeout = 500 * time.Millisecond
	}
	if cfg.Retries == 0 {
		cfg.Retries = 3
	}
	srv := New(cfg, Deps{
		Log:       slog.New(logHandler{l: e.logs}),
		Files:     files,
		Events:    e.events,
		Counters:  e.counters,
		Generated: gen,
		MACFor: func(ip net.IP) string {
			if ip.Equal(net.IPv4(127, 0, 0, 1)) {
				return testMAC
			}
			return ""
		},
	})
	for _, f := range tweak {
		f(srv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeConn(ctx, conn) }()
	e.logs.wait(t, "TFTP server listening")
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ServeConn: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("ServeConn did not return after cancel")
		}
	})
	return e
}

func startFake(t *testing.T) *env {
	t.Helper()
	dataDir, outside, files := fakeFirmware(t)
	e := start(t, firmware.New(dataDir, nil, nil), Config{})
	e.dataDir, e.outside, e.files = dataDir, outside, files
	return e
}

// waitCounter waits until counter name reaches want.
func (e *env) waitCounter(t *testing.T, name string, want uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := e.counters.Snapshot()[name]
		if got == want {
			return
		}
		if got > want || time.Now().After(deadline) {
			t.Fatalf("counter %s = %d, want %d (all: %v)", name, got, want, e.counters.Snapshot())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitEvents waits until at least n events were recorded and returns them:
// the server counts a transfer's end just before it records its event.
func (e *env) waitEvents(t *testing.T, n int) []events.Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		evs := e.events.all()
		if len(evs) >= n || time.Now().After(deadline) {
			return evs
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *env) client(t *testing.T, blksize int, tsize bool) *tftp.Client {
	t.Helper()
	c, err := tftp.NewClient(e.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetTimeout(2 * time.Second)
	c.SetRetries(3)
	if blksize > 0 {
		c.SetBlockSize(blksize)
	}
	c.RequestTSize(tsize)
	return c
}

// get downloads name; the returned size is the tsize the server announced
// (-1 when none).
func get(c *tftp.Client, name string) ([]byte, int64, error) {
	wt, err := c.Receive(name, "octet")
	if err != nil {
		return nil, -1, err
	}
	size := int64(-1)
	if n, ok := wt.(tftp.IncomingTransfer).Size(); ok {
		size = n
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return nil, size, err
	}
	return buf.Bytes(), size, nil
}

func TestDownload(t *testing.T) {
	e := startFake(t)
	tests := []struct {
		name    string
		blksize int
		tsize   bool
	}{
		{"undionly.kpxe", 0, false},
		{"/undionly.kpxe", 0, true}, // the leading "/" firmware sends
		{"ipxe.efi", 1468, true},
		{"ipxe.efi", 512, true},
		{"snponly.efi", 0, false},
		{"snponly.efi", 1468, true},
		{"ipxe-arm64.efi", 1468, false},
		{"ipxe-arm64.efi", 8192, true},
	}
	for i, tc := range tests {
		t.Run(fmt.Sprintf("%s/blksize=%d/tsize=%v", strings.TrimPrefix(tc.name, "/"), tc.blksize, tc.tsize), func(t *testing.T) {
			got, size, err := get(e.client(t, tc.blksize, tc.tsize), tc.name)
			if err != nil {
				t.Fatal(err)
			}
			want := e.files[strings.TrimPrefix(tc.name, "/")]
			if !bytes.Equal(got, want) {
				t.Fatalf("got %d bytes, want %d bytes of %s", len(got), len(want), tc.name)
			}
			switch {
			case tc.tsize && size != int64(len(want)):
				t.Errorf("tsize %d, want %d", size, len(want))
			case !tc.tsize && size != -1:
				t.Errorf("tsize %d announced without being asked", size)
			}
			e.waitCounter(t, counterSent, uint64(i+1))
		})
	}

	evs := e.waitEvents(t, len(tests))
	if len(evs) != len(tests) {
		t.Fatalf("%d events, want %d: %+v", len(evs), len(tests), evs)
	}
	ev := evs[2]
	want := events.Event{MAC: testMAC, IP: "127.0.0.1", Arch: "efi-x64", Stage: events.StageTFTP, Detail: "ipxe.efi 300001 bytes from data-dir"}
	if ev != want {
		t.Errorf("event %+v\nwant  %+v", ev, want)
	}
	recs := e.logs.find("TFTP transfer complete")
	if len(recs) != len(tests) {
		t.Fatalf("%d transfer log lines, want %d", len(recs), len(tests))
	}
	for _, k := range []string{"mac", "ip", "file", "bytes", "duration", "source"} {
		if recs[0].attrs[k] == "" {
			t.Errorf("transfer log line lacks %s: %v", k, recs[0].attrs)
		}
	}
	if c := e.counters.Snapshot(); c[counterFailed]+c[counterRefused]+c[counterTsizeProbe] != 0 {
		t.Errorf("unexpected counters: %v", c)
	}
}

// rawRRQ builds a read request with options, as firmware sends it.
func rawRRQ(name string, opts ...string) []byte {
	b := []byte{0, 1}
	for _, s := range append([]string{name, "octet"}, opts...) {
		b = append(append(b, s...), 0)
	}
	return b
}

// rawClient is a UDP socket for hand-made packets.
func rawClient(t testing.TB) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (e *env) serverAddr(t testing.TB) *net.UDPAddr {
	a, err := net.ResolveUDPAddr("udp4", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// readPacket returns the next packet, or nil after d.
func readPacket(t *testing.T, c *net.UDPConn, d time.Duration) ([]byte, *net.UDPAddr) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 65536)
	n, from, err := c.ReadFromUDP(buf)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, nil
		}
		t.Fatal(err)
	}
	return buf[:n], from
}

// TestTsizeProbe replays what OVMF does: ask for the size, abort with
// error 8, then download for real.
func TestTsizeProbe(t *testing.T) {
	e := startFake(t)
	c := rawClient(t)
	if _, err := c.WriteToUDP(rawRRQ("ipxe.efi", "tsize", "0", "blksize", "1468"), e.serverAddr(t)); err != nil {
		t.Fatal(err)
	}
	p, from := readPacket(t, c, 3*time.Second)
	if p == nil || binary.BigEndian.Uint16(p) != 6 {
		t.Fatalf("want OACK, got %q", p)
	}
	opts := map[string]string{}
	fields := bytes.Split(p[2:len(p)-1], []byte{0})
	for i := 0; i+1 < len(fields); i += 2 {
		opts[string(fields[i])] = string(fields[i+1])
	}
	if opts["tsize"] != strconv.Itoa(len(e.files["ipxe.efi"])) || opts["blksize"] != "1468" {
		t.Errorf("OACK options %v", opts)
	}
	abort := append([]byte{0, 5, 0, 8}, "User aborted the transfer\x00"...)
	if _, err := c.WriteToUDP(abort, from); err != nil {
		t.Fatal(err)
	}
	e.waitCounter(t, counterTsizeProbe, 1)

	got, _, err := get(e.client(t, 1468, true), "ipxe.efi")
	if err != nil || !bytes.Equal(got, e.files["ipxe.efi"]) {
		t.Fatalf("download after probe: %d bytes, %v", len(got), err)
	}
	e.waitCounter(t, counterSent, 1)

	c2 := e.counters.Snapshot()
	if c2[counterFailed] != 0 || c2[counterRefused] != 0 {
		t.Errorf("probe counted as failure: %v", c2)
	}
	if evs := e.waitEvents(t, 1); len(evs) != 1 || evs[0].Stage != events.StageTFTP {
		t.Errorf("events %+v; want only the completed download", evs)
	}
	probe := e.logs.find("TFTP size probe ended by client")
	if len(probe) != 1 || probe[0].level != slog.LevelDebug {
		t.Errorf("probe log %+v; want one Debug line", probe)
	}
}

// TestTsizeProbeSilent: a client that goes quiet after the OACK.
func TestTsizeProbeSilent(t *testing.T) {
	dataDir, _, _ := fakeFirmware(t)
	e := start(t, firmware.New(dataDir, nil, nil), Config{Timeout: 100 * time.Millisecond, Retries: 2})
	c := rawClient(t)
	if _, err := c.WriteToUDP(rawRRQ("undionly.kpxe", "tsize", "0"), e.serverAddr(t)); err != nil {
		t.Fatal(err)
	}
	if p, _ := readPacket(t, c, 3*time.Second); p == nil || binary.BigEndian.Uint16(p) != 6 {
		t.Fatalf("want OACK, got %q", p)
	}
	e.waitCounter(t, counterTsizeProbe, 1)
	if c := e.counters.Snapshot(); c[counterFailed] != 0 {
		t.Errorf("counters %v", c)
	}
}

// TestTransferBreaksOff: a client that stops after some data is a failure
// worth an error event.
func TestTransferBreaksOff(t *testing.T) {
	dataDir, _, _ := fakeFirmware(t)
	e := start(t, firmware.New(dataDir, nil, nil), Config{Timeout: 100 * time.Millisecond, Retries: 2})
	c := rawClient(t)
	if _, err := c.WriteToUDP(rawRRQ("ipxe.efi"), e.serverAddr(t)); err != nil {
		t.Fatal(err)
	}
	p, from := readPacket(t, c, 3*time.Second)
	if p == nil || binary.BigEndian.Uint16(p) != 3 {
		t.Fatalf("want DATA, got %q", p)
	}
	c.WriteToUDP([]byte{0, 4, 0, 1}, from) // ACK block 1, then silence
	e.waitCounter(t, counterFailed, 1)
	evs := e.waitEvents(t, 1)
	if len(evs) != 1 || evs[0].Stage != events.StageError || evs[0].MAC != testMAC || !strings.Contains(evs[0].Detail, "ipxe.efi broke off after") {
		t.Errorf("events %+v", evs)
	}
}

func TestRefused(t *testing.T) {
	e := startFake(t)
	names := []string{
		"../../etc/passwd",
		"../../../../../../../../etc/passwd",
		"/etc/passwd",
		"//etc/passwd",
		"a/../../x",
		"/../outside/secret",
		"..\\..\\windows\\win.ini",
		"\\windows\\system32\\config\\sam",
		"%2e%2e%2f%2e%2e%2fetc%2fpasswd",
		"%2e%2e/%2e%2e/outside/secret",
		"..",
		".",
		"",
		"ipxe.efi/",
		"ipxe\r\n.efi",
		strings.Repeat("x", 300),
		strings.Repeat("../", 150) + "etc/passwd",
		"escape.efi",  // absolute symlink out of the firmware directory
		"escape2.efi", // relative symlink out of it
	}
	for i, name := range names {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			got, _, err := get(e.client(t, 0, true), name)
			if err == nil || !strings.Contains(err.Error(), "access violation") {
				t.Fatalf("%q: got %d bytes (%q), err %v; want access violation", name, len(got), got, err)
			}
			e.waitCounter(t, counterRefused, uint64(i+1))
			rec := e.logs.find("TFTP request refused")
			last := rec[len(rec)-1]
			if last.level != slog.LevelWarn || last.attrs["reason"] == "" || last.attrs["mac"] != testMAC {
				t.Errorf("log %+v", last)
			}
			if want := quote(name); last.attrs["file"] != want {
				t.Errorf("logged file %s, want %s", last.attrs["file"], want)
			}
		})
	}
	c := e.counters.Snapshot()
	if c[counterSent] != 0 || len(e.events.all()) != 0 {
		t.Errorf("something was served: %v %+v", c, e.events.all())
	}
}

// TestRefusedRaw sends requests the Go client cannot: a NUL inside the
// name (TFTP ends the name at the first NUL, so the rest is the mode) and a
// request longer than a TFTP packet.
func TestRefusedRaw(t *testing.T) {
	e := startFake(t)
	c := rawClient(t)

	nul := append([]byte{0, 1}, "../../outside/secret\x00undionly.kpxe\x00octet\x00"...)
	c.WriteToUDP(nul, e.serverAddr(t))
	p, _ := readPacket(t, c, 3*time.Second)
	if p == nil || binary.BigEndian.Uint16(p) != 5 || !bytes.Contains(p, []byte("access violation")) {
		t.Fatalf("NUL-smuggled name: got %q, want an access violation error", p)
	}
	e.waitCounter(t, counterRefused, 1)

	// 2000 bytes: the server reads only a TFTP-sized datagram, finds no
	// end to the name and drops it without answering.
	long := rawRRQ(strings.Repeat("../", 666) + "etc/passwd")
	c.WriteToUDP(long, e.serverAddr(t))
	if p, _ := readPacket(t, c, 300*time.Millisecond); p != nil {
		t.Errorf("over-long request answered: %q", p)
	}
	e.waitCounter(t, counterBadPacket, 1)

	// A stray ACK on the server port is no request.
	c.WriteToUDP([]byte{0, 4, 0, 1}, e.serverAddr(t))
	e.waitCounter(t, counterBadPacket, 2)
	if n := e.counters.Snapshot()[counterSent]; n != 0 {
		t.Errorf("%d files sent", n)
	}
}

func TestNotFoundAndReadError(t *testing.T) {
	e := startFake(t)
	_, _, err := get(e.client(t, 0, false), "ipxe-i386.efi")
	if err == nil || !strings.Contains(err.Error(), "file not found") {
		t.Errorf("missing file: %v", err)
	}
	e.waitCounter(t, counterNotFound, 1)

	broken := start(t, brokenFiles{}, Config{})
	_, _, err = get(broken.client(t, 0, false), "ipxe.efi")
	if err == nil || !strings.Contains(err.Error(), "cannot read file") || strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("unreadable file: %v; want a generic error without details", err)
	}
	broken.waitCounter(t, counterError, 1)
}

type brokenFiles struct{}

func (brokenFiles) Open(string) (*firmware.File, error) { return nil, errors.New("disk on fire") }

func TestWriteRefused(t *testing.T) {
	e := startFake(t)
	c := e.client(t, 0, false)
	rf, err := c.Send("pwned.efi", "octet")
	if err == nil {
		_, err = rf.ReadFrom(strings.NewReader("payload"))
	}
	if err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("write: %v; want refused", err)
	}
	e.waitCounter(t, counterWriteRefused, 1)
	if _, err := os.Stat(filepath.Join(firmware.OverrideDir(e.dataDir), "pwned.efi")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("written file exists: %v", err)
	}
	if rec := e.logs.find("TFTP write request refused"); len(rec) != 1 || rec[0].attrs["file"] != `"pwned.efi"` {
		t.Errorf("log %+v", rec)
	}
}

// run runs an external client with a deadline and returns its output.
func run(t *testing.T, dir string, name string, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	return cmd.CombinedOutput()
}

func need(t *testing.T, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("%s is not installed (Debian: apt-get install %s): skipping", tool, map[string]string{"curl": "curl", "tftp": "tftp-hpa", "busybox": "busybox-static"}[tool])
	}
}

func TestExternalClients(t *testing.T) {
	e := startFake(t)
	_, port, _ := net.SplitHostPort(e.addr)
	check := func(t *testing.T, path, name string) {
		t.Helper()
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, e.files[name]) {
			t.Fatalf("%s: got %d bytes, want %d", name, len(got), len(e.files[name]))
		}
	}

	t.Run("curl", func(t *testing.T) {
		need(t, "curl")
		dir := t.TempDir()
		for _, args := range [][]string{
			{},                         // curl asks for tsize and blksize 512
			{"--tftp-blksize", "1468"}, // as iPXE does
			{"--tftp-no-options"},      // plain RFC 1350
		} {
			out := filepath.Join(dir, "undionly.kpxe")
			cmdArgs := append([]string{"-sS", "--max-time", "15", "-o", out}, args...)
			cmdArgs = append(cmdArgs, "tftp://"+e.addr+"/undionly.kpxe")
			if b, err := run(t, dir, "curl", cmdArgs...); err != nil {
				t.Fatalf("curl %q: %v\n%s", args, err, b)
			}
			check(t, out, "undionly.kpxe")
			os.Remove(out)
		}
		// curl removes "../" itself unless told not to.
		before := e.counters.Snapshot()[counterRefused]
		out := filepath.Join(dir, "passwd")
		b, err := run(t, dir, "curl", "-sS", "--max-time", "15", "--path-as-is", "-o", out, "tftp://"+e.addr+"/../../etc/passwd")
		if err == nil {
			t.Fatalf("curl fetched ../../etc/passwd: %s", b)
		}
		if got, _ := os.ReadFile(out); len(got) != 0 {
			t.Errorf("curl wrote %q", got)
		}
		e.waitCounter(t, counterRefused, before+1)
	})

	t.Run("tftp-hpa", func(t *testing.T) {
		need(t, "tftp")
		dir := t.TempDir()
		b, err := run(t, dir, "tftp", "-m", "binary", "127.0.0.1", port, "-c", "get", "ipxe.efi", "ipxe.efi")
		if err != nil {
			t.Fatalf("tftp: %v\n%s", err, b)
		}
		check(t, filepath.Join(dir, "ipxe.efi"), "ipxe.efi")
		// tftp-hpa exits 0 even on errors; it prints them.
		before := e.counters.Snapshot()[counterRefused]
		b, _ = run(t, dir, "tftp", "-m", "binary", "127.0.0.1", port, "-c", "get", "../../outside/secret", "secret")
		if !strings.Contains(string(b), "access violation") {
			t.Errorf("tftp-hpa traversal: %s", b)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "secret")); bytes.Contains(got, []byte("SECRET")) {
			t.Error("secret served")
		}
		e.waitCounter(t, counterRefused, before+1)
		b, _ = run(t, dir, "tftp", "-m", "binary", "127.0.0.1", port, "-c", "put", "ipxe.efi", "uploaded.efi")
		if !strings.Contains(string(b), "read-only") {
			t.Errorf("tftp-hpa put: %s", b)
		}
	})

	t.Run("busybox", func(t *testing.T) {
		need(t, "busybox")
		dir := t.TempDir()
		if b, err := run(t, dir, "busybox", "tftp", "-g", "-b", "1468", "-r", "snponly.efi", "-l", "snponly.efi", "127.0.0.1", port); err != nil {
			t.Fatalf("busybox tftp: %v\n%s", err, b)
		}
		check(t, filepath.Join(dir, "snponly.efi"), "snponly.efi")
	})
}

// TestRealFirmware serves Debian's ipxe.efi from /usr/lib/ipxe, where it is
// an absolute symlink to /boot/ipxe.efi.
func TestRealFirmware(t *testing.T) {
	want, err := os.ReadFile("/usr/lib/ipxe/ipxe.efi")
	if err != nil {
		t.Skip("Debian's ipxe package is not installed:", err)
	}
	e := start(t, firmware.New("", nil, firmware.DefaultOSDirs()), Config{})
	got, size, err := get(e.client(t, 1468, true), "/ipxe.efi")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) || size != int64(len(want)) {
		t.Fatalf("got %d bytes (tsize %d), want %d", len(got), size, len(want))
	}
	e.waitCounter(t, counterSent, 1)
	ev := e.waitEvents(t, 1)[0]
	if wantDetail := fmt.Sprintf("ipxe.efi %d bytes from /usr/lib/ipxe", len(want)); ev.Detail != wantDetail {
		t.Errorf("event detail %q, want %q", ev.Detail, wantDetail)
	}
}

func TestServe(t *testing.T) {
	err := New(Config{Addr: "256.0.0.1:69"}, Deps{Files: brokenFiles{}}).Serve(context.Background())
	if err == nil {
		t.Error("Serve on a bad address succeeded")
	}

	// Listen on a loopback port of its own, then stop.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(Config{Addr: "127.0.0.1:0"}, Deps{Files: brokenFiles{}}).Serve(ctx) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not stop")
	}
}

// TestShutdownStopsTransfer: cancelling the context ends a transfer that is
// still sending instead of waiting for it.
func TestShutdownStopsTransfer(t *testing.T) {
	dataDir, _, _ := fakeFirmware(t)
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	counters := events.NewCounters()
	srv := New(Config{Timeout: 5 * time.Second}, Deps{Files: firmware.New(dataDir, nil, nil), Counters: counters})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeConn(ctx, conn) }()

	c := rawClient(t)
	srvAddr := conn.LocalAddr().(*net.UDPAddr)
	c.WriteToUDP(rawRRQ("ipxe.efi"), srvAddr)
	p, from := readPacket(t, c, 3*time.Second)
	if p == nil || binary.BigEndian.Uint16(p) != 3 {
		t.Fatalf("want DATA, got %q", p)
	}
	cancel()
	c.WriteToUDP([]byte{0, 4, 0, 1}, from) // the server reads block 2 and stops
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ServeConn: %v", err)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("shutdown waited for the transfer")
	}
	if n := counters.Snapshot()[counterFailed]; n != 1 {
		t.Errorf("tftp.failed = %d", n)
	}
}
