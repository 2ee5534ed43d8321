package api

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
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
	if err == nil || !strings.Contains(err.Error(), "bad event") {
		t.Errorf("bad data: err = %v", err)
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
