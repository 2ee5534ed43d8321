package control

import (
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func newTestServer(logs *syncBuffer) *Server {
	return New(Deps{Log: slog.New(slog.NewTextHandler(logs, nil))})
}

func TestListenSetsGroupAndMode(t *testing.T) {
	logs := &syncBuffer{}
	s := newTestServer(logs)
	path := filepath.Join(shortTempDir(t), "sub", "pixie.sock") // parent created
	ln, err := s.Listen(path, currentGroup(t))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode = %v, want socket 0660", fi.Mode())
	}
	if gid := fi.Sys().(*syscall.Stat_t).Gid; strconv.Itoa(int(gid)) != strconv.Itoa(os.Getgid()) {
		t.Errorf("socket gid = %d, want %d", gid, os.Getgid())
	}
}

func TestListenMissingGroupIsRootOnly(t *testing.T) {
	logs := &syncBuffer{}
	s := newTestServer(logs)
	path := filepath.Join(shortTempDir(t), "pixie.sock")
	ln, err := s.Listen(path, "pixie-no-such-group")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode = %v, want 0600 without the group", fi.Mode())
	}
	if !strings.Contains(logs.String(), "group pixie-no-such-group does not exist") {
		t.Errorf("no warning about the missing group:\n%s", logs)
	}
}

func TestListenReplacesStaleSocket(t *testing.T) {
	logs := &syncBuffer{}
	s := newTestServer(logs)
	path := filepath.Join(shortTempDir(t), "pixie.sock")
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	old.SetUnlinkOnClose(false) // as a crashed daemon leaves it
	old.Close()
	ln, err := s.Listen(path, currentGroup(t))
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	ln.Close()
	if !strings.Contains(logs.String(), "removed a stale control socket") {
		t.Errorf("stale socket removal not logged:\n%s", logs)
	}
}

func TestListenRefusesLiveSocketAndOtherFiles(t *testing.T) {
	s := newTestServer(&syncBuffer{})
	dir := shortTempDir(t)
	path := filepath.Join(dir, "pixie.sock")
	first, err := s.Listen(path, currentGroup(t))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	go func() { // answer like a daemon would
		for {
			c, err := first.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if _, err := s.Listen(path, currentGroup(t)); err == nil || !strings.Contains(err.Error(), "another pixie daemon is already listening on "+path) {
		t.Errorf("second Listen: %v; want 'another pixie daemon is already listening'", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the live socket was removed: %v", err)
	}

	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("keep me"), 0o644)
	if _, err := s.Listen(file, currentGroup(t)); err == nil || !strings.Contains(err.Error(), "is not a socket") {
		t.Errorf("Listen on a regular file: %v", err)
	}
	if b, _ := os.ReadFile(file); string(b) != "keep me" {
		t.Error("the regular file was touched")
	}
}
