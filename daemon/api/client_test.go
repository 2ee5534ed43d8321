package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestDaemonNotRunning(t *testing.T) {
	dir, err := os.MkdirTemp("", "pixie")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)

	missing := filepath.Join(dir, "missing.sock")
	_, err = NewClient(missing).Status(context.Background())
	if !errors.Is(err, ErrDaemonNotRunning) || !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("no socket: err = %v, want ErrDaemonNotRunning wrapping ENOENT", err)
	}
	want := "pixie daemon is not running (no socket at " + missing + "): start it with `sudo pixie serve` (or `sudo pixie start` once installed as a service)"
	if err.Error() != want {
		t.Errorf("message\n got %q\nwant %q", err, want)
	}

	// A socket file left by a daemon that died: connection refused.
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	_, err = NewClient(stale).Machines(context.Background())
	if !errors.Is(err, ErrDaemonNotRunning) || !strings.Contains(err.Error(), "nothing answers on "+stale) {
		t.Errorf("stale socket: err = %v", err)
	}
	if _, err := NewClient(stale).Events(context.Background(), 0); !errors.Is(err, ErrDaemonNotRunning) {
		t.Errorf("Events on a stale socket: err = %v", err)
	}
}

func TestNonJSONErrorAnswer(t *testing.T) {
	dir, err := os.MkdirTemp("", "pixie")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusBadGateway)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	_, err = NewClient(sock).Status(context.Background())
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != http.StatusBadGateway || ae.Code != CodeInternal || !strings.Contains(ae.Message, "boom") {
		t.Errorf("err = %#v", err)
	}
}

func TestReadSSE(t *testing.T) {
	stream := ": keep-alive\n\n" +
		"id: 7\nevent: boot\ndata: {\"id\":7,\"mac\":\"52:54:00:00:00:01\",\"stage\":\"dhcp\"}\n\n" +
		"event: other\ndata: {\"ignored\":true}\n\n" +
		"data: {\"id\":8,\r\ndata: \"stage\":\"tftp\"}\r\n\r\n"
	out := make(chan Event, 10)
	err := readSSE(context.Background(), bufio.NewReader(strings.NewReader(stream)), out)
	if !errors.Is(err, ErrStreamClosed) {
		t.Errorf("end of stream: err = %v, want ErrStreamClosed", err)
	}
	close(out)
	var got []Event
	for e := range out {
		got = append(got, e)
	}
	if len(got) != 2 || got[0].ID != 7 || got[0].Stage != "dhcp" || got[1].ID != 8 || got[1].Stage != "tftp" {
		t.Errorf("events = %+v", got)
	}

	err = readSSE(context.Background(), bufio.NewReader(strings.NewReader("data: {not json\n\n")), make(chan Event, 1))
	var syntax *json.SyntaxError
	if err == nil || !strings.HasPrefix(err.Error(), `the pixie daemon sent a boot event this pixie cannot read, "{not json": are the CLI and the daemon different versions?`) || !errors.As(err, &syntax) {
		t.Errorf("bad data: err = %v", err)
	}
	// A stream cut in the middle of a line (the daemon was killed).
	err = readSSE(context.Background(), bufio.NewReader(strings.NewReader("data: {\"id\":1")), make(chan Event, 1))
	if err == nil || err.Error() != "the pixie daemon's event stream broke off (did the daemon stop or restart?): run the command again" || !errors.Is(err, io.EOF) {
		t.Errorf("cut stream: err = %v", err)
	}
}

func TestDefaultSocketPath(t *testing.T) {
	t.Setenv(SocketEnv, "")
	if got := OSSocketPath("linux"); got != "/run/pixie/pixie.sock" {
		t.Errorf("linux socket = %q", got)
	}
	if got := OSSocketPath("darwin"); got != "/var/run/pixie.sock" {
		t.Errorf("darwin socket = %q", got)
	}
	t.Setenv(SocketEnv, "/tmp/x.sock")
	if got := DefaultSocketPath(); got != "/tmp/x.sock" {
		t.Errorf("with $%s: %q", SocketEnv, got)
	}
}

// serveUnix answers every connection on a fresh socket with handle.
func serveUnix(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pixie")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	return sock
}

func TestNotASocket(t *testing.T) {
	for _, mk := range []func(string) error{
		func(p string) error { return os.WriteFile(p, []byte("x"), 0o644) },
		func(p string) error { return os.Mkdir(p, 0o755) },
	} {
		p := filepath.Join(t.TempDir(), "pixie.sock")
		if err := mk(p); err != nil {
			t.Fatal(err)
		}
		_, err := NewClient(p).Status(context.Background())
		var nr *NotRunningError
		if !errors.As(err, &nr) || !nr.NotSocket || !errors.Is(err, ErrDaemonNotRunning) {
			t.Fatalf("%s: err = %v; want a NotRunningError saying it is not a socket", p, err)
		}
		want := p + " is not a socket, so no pixie daemon answers there: give --socket (or $" + SocketEnv + ") the daemon's socket, " + OSSocketPath(runtime.GOOS) + " by default"
		if err.Error() != want {
			t.Errorf("message\n got %q\nwant %q", err, want)
		}
	}
}

func TestDaemonDoesNotAnswer(t *testing.T) {
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	sock := serveUnix(t, func(c net.Conn) { <-done; c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := NewClient(sock).Status(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v; want one matching context.DeadlineExceeded", err)
	}
	want := "the pixie daemon on " + sock + " did not answer in time (context deadline exceeded): it may be stuck; see its log (`journalctl -u pixie` on Linux) or restart it with `sudo pixie restart`"
	if err.Error() != want {
		t.Errorf("message\n got %q\nwant %q", err, want)
	}
}

func TestDaemonHangsUp(t *testing.T) {
	sock := serveUnix(t, func(c net.Conn) {
		bufio.NewReader(c).ReadString('\n')
		c.Close()
	})
	_, err := NewClient(sock).Status(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "lost the connection to the pixie daemon on "+sock+" before it answered (") ||
		!strings.HasSuffix(err.Error(), "): it may have stopped or restarted; check `pixie status`") {
		t.Errorf("err = %v", err)
	}
}

func TestNotAPixieDaemon(t *testing.T) {
	sock := serveUnix(t, func(c net.Conn) {
		defer c.Close()
		r := bufio.NewReader(c)
		for {
			l, err := r.ReadString('\n')
			if err != nil || l == "\r\n" {
				break
			}
		}
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"))
	})
	_, err := NewClient(sock).Status(context.Background())
	want := "read the pixie daemon's answer to GET /v1/status: it is not the JSON a pixie daemon sends (invalid character 'h' looking for beginning of value): check that " + sock +
		" is the pixie daemon's socket (--socket, $" + SocketEnv + ") and that the daemon is as new as this pixie"
	if err == nil || err.Error() != want {
		t.Errorf("message\n got %v\nwant %q", err, want)
	}
}

func TestOlderDaemon(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler()}
	go srv.Serve(ln)
	defer srv.Close()
	_, err = NewClient(sock).Boots(context.Background(), 0)
	want := "the pixie daemon does not know GET /v1/boots (it answered 404 Not Found): it is older than this pixie (restart it after upgrading: `sudo pixie restart`), or what answers on the socket is not a pixie daemon"
	if err == nil || err.Error() != want {
		t.Errorf("message\n got %v\nwant %q", err, want)
	}
}
