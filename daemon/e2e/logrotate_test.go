package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/internal/testnet"
)

// waitFileHas waits until the file at path contains substr.
func waitFileHas(t *testing.T, path, substr string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), substr) {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has no %q after %s; it holds:\n%s", path, substr, timeout, tail(string(b), 40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestServeLogFileRotation rotates a running daemon's --log-file the way
// macOS's newsyslog does (packaging/launchd/pixie.newsyslog.conf): rename
// the file, read the pid from --pid-file, send SIGHUP. The daemon must go
// on in a new file at the same path, and remove its pid file on exit.
func TestServeLogFileRotation(t *testing.T) {
	testnet.RequireRoot(t)
	bin := pixieBinary(t)
	lan := testnet.NewLAN(t, testnet.Options{})
	sockDir, err := os.MkdirTemp("", "pixie-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	p := &pixieLAN{LAN: lan, Bin: bin, DataDir: filepath.Join(lan.Dir, "data"), Socket: filepath.Join(sockDir, "pixie.sock")}
	logPath := filepath.Join(lan.Dir, "logs", "pixie.log")
	pidPath := filepath.Join(lan.Dir, "pixie.pid")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := lan.Start(lan.ServerNS, bin, append(p.serveArgs(), "--log-file", logPath, "--pid-file", pidPath)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Stop)
	waitFileHas(t, logPath, "pixie serving", 60*time.Second)
	if strings.Contains(d.Log(), "pixie serving") {
		t.Errorf("with --log-file the log still went to stderr:\n%s", tail(d.Log(), 20))
	}
	pidText, err := os.ReadFile(pidPath)
	if err != nil {
		t.Fatalf("no pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(pidText)))
	if err != nil || pid != d.Pid() {
		t.Fatalf("pid file holds %q, the daemon is %d", pidText, d.Pid())
	}

	if err := os.Rename(logPath, logPath+".0"); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFileHas(t, logPath, "log file opened again", 30*time.Second)
	// The daemon keeps serving after the signal: its control socket
	// answers.
	if st := p.Status(t); !st.Serving {
		t.Errorf("after SIGHUP the daemon is not serving: %+v", st)
	}
	d.Stop()
	select {
	case <-d.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the daemon did not stop")
	}
	rotated, _ := os.ReadFile(logPath + ".0")
	current := waitFileHas(t, logPath, "pixie stopped", 5*time.Second)
	if !strings.Contains(string(rotated), "pixie serving") || strings.Contains(string(rotated), "pixie stopped") {
		t.Errorf("the rotated file should hold the lines before the signal only:\n%s", tail(string(rotated), 20))
	}
	if strings.Contains(current, "pixie serving") {
		t.Errorf("the new file holds lines from before the rotation:\n%s", current)
	}
	if _, err := os.Stat(pidPath); !os.IsNotExist(err) {
		t.Errorf("pid file left behind after the daemon stopped: %v", err)
	}
}
