package daemon

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/internal/testnet"
)

// pixieBin builds cmd/pixie once per test binary (cgo: mattn/go-sqlite3
// comes from the build cache after the first build).
var pixieBin struct {
	once sync.Once
	path string
	err  error
}

func buildPixie(t *testing.T) string {
	t.Helper()
	pixieBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "pixie-daemon-test-")
		if err != nil {
			pixieBin.err = err
			return
		}
		bin := filepath.Join(dir, "pixie")
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "../cmd/pixie").CombinedOutput()
		if err != nil {
			pixieBin.err = fmt.Errorf("go build ../cmd/pixie: %v\n%s", err, out)
			return
		}
		pixieBin.path = bin
	})
	if pixieBin.err != nil {
		t.Fatal(pixieBin.err)
	}
	return pixieBin.path
}

// startLAN is a test LAN with pixie's arguments for its server namespace.
func startLAN(t *testing.T) (*testnet.LAN, string, []string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds pixie and runs it in network namespaces; skipped with -short")
	}
	testnet.RequireRoot(t)
	testnet.RequireTools(t, "ip", "env", "curl", "ss")
	bin := buildPixie(t)
	lan := testnet.NewLAN(t, testnet.Options{Prefix: "pxstart"})
	sock := filepath.Join(lan.Dir, "pixie.sock")
	args := []string{bin, "serve",
		"--interface", testnet.Iface,
		"--data-dir", filepath.Join(lan.Dir, "data"),
		"--http-port", "8080",
		"--socket", sock,
		"--log-level", "debug",
	}
	return lan, sock, args
}

// waitStatus polls the control socket until ok accepts the status, for
// at most d.
func waitStatus(t *testing.T, p *testnet.Process, sock string, d time.Duration, ok func(api.Status) bool) api.Status {
	t.Helper()
	c := api.NewClient(sock)
	deadline := time.Now().Add(d)
	var last api.Status
	var err error
	for time.Now().Before(deadline) {
		select {
		case <-p.Done():
			t.Fatalf("pixie exited (%v); log:\n%s", p.Err(), p.Log())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		last, err = c.Status(ctx)
		cancel()
		if err == nil && ok(last) {
			return last
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("status not reached in %s: last %+v (err %v); log:\n%s", d, last, err, p.Log())
	return last
}

// TestStartsWithoutNetwork is launchd at boot, or a laptop with its
// cable out: the LAN interface is down when the daemon starts. The daemon
// must stay up, answer on its control socket saying it waits for the
// network, and serve as soon as the link comes up.
func TestStartsWithoutNetwork(t *testing.T) {
	lan, sock, args := startLAN(t)
	if _, err := lan.Exec(lan.ServerNS, "ip", "link", "set", testnet.Iface, "down"); err != nil {
		t.Fatal(err)
	}
	// Foreground (no service manager in the environment): a missing
	// network is still waited for.
	p, err := lan.Start(lan.ServerNS, "env", append([]string{"-u", "INVOCATION_ID", "-u", "XPC_SERVICE_NAME"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	st := waitStatus(t, p, sock, 60*time.Second, func(api.Status) bool { return true })
	if st.Serving || !strings.Contains(st.Problem, "interface "+testnet.Iface+" is down") {
		t.Fatalf("with the link down: serving %v, problem %q; want not serving, interface %s is down", st.Serving, st.Problem, testnet.Iface)
	}
	if !strings.Contains(p.Log(), "waiting for the network") {
		t.Errorf("the log does not say pixie waits for the network:\n%s", p.Log())
	}
	if st.Address != "" || st.BootURL != "" {
		t.Errorf("before any address: status names address %q, boot URL %q; want none", st.Address, st.BootURL)
	}
	if _, err := lan.Exec(lan.ServerNS, "ip", "link", "set", testnet.Iface, "up"); err != nil {
		t.Fatal(err)
	}
	st = waitStatus(t, p, sock, 30*time.Second, func(s api.Status) bool { return s.Serving })
	if st.Problem != "" || st.Address != testnet.ServerIP || st.Interface != testnet.Iface {
		t.Fatalf("after link up: %+v; want serving on %s %s with no problem", st, testnet.Iface, testnet.ServerIP)
	}
	// The servers really are bound: pixie's HTTP answers inside the LAN.
	if out, err := lan.Exec(lan.ServerNS, "curl", "-sS", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}", "http://"+testnet.ServerIP+":8080/boot.ipxe"); err != nil || out != "200" {
		t.Fatalf("GET /boot.ipxe after link up: %q, %v", out, err)
	}
}

// TestHeldPortForegroundVsSupervised: another program holds pixie's HTTP
// port. By hand, `pixie serve` stops and says so; under a service manager
// it stays, reports the problem in status, and binds once the port is
// free.
func TestHeldPortForegroundVsSupervised(t *testing.T) {
	lan, sock, args := startLAN(t)
	testnet.RequireTools(t, "curl")
	busybox, err := testnet.Busybox()
	if err != nil {
		t.Skip(err)
	}
	holder, err := lan.Start(lan.ServerNS, busybox, "nc", "-l", "-p", "8080")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(holder.Stop)
	// Give nc a moment to bind; prove it holds the port before going on.
	var held bool
	for range 50 {
		if out, _ := lan.Exec(lan.ServerNS, "ss", "-Htln", "sport = :8080"); strings.Contains(out, "8080") {
			held = true
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !held {
		t.Fatalf("busybox nc did not take port 8080; its log:\n%s", holder.Log())
	}

	fg, err := lan.Start(lan.ServerNS, "env", append([]string{"-u", "INVOCATION_ID", "-u", "XPC_SERVICE_NAME"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-fg.Done():
	case <-time.After(60 * time.Second):
		fg.Stop()
		t.Fatalf("foreground pixie kept running with its HTTP port held; log:\n%s", fg.Log())
	}
	if !strings.Contains(fg.Log(), "address already in use") {
		t.Fatalf("foreground pixie exited without naming the held port; log:\n%s", fg.Log())
	}

	sup, err := lan.Start(lan.ServerNS, "env", append([]string{"-u", "XPC_SERVICE_NAME", "INVOCATION_ID=pixie-test"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sup.Stop)
	st := waitStatus(t, sup, sock, 60*time.Second, func(api.Status) bool { return true })
	if st.Serving || !strings.Contains(st.Problem, "HTTP on") || !strings.Contains(st.Problem, "retrying") {
		t.Fatalf("supervised with the port held: serving %v, problem %q; want the HTTP port named and a retry", st.Serving, st.Problem)
	}
	holder.Stop()
	st = waitStatus(t, sup, sock, 30*time.Second, func(s api.Status) bool { return s.Serving })
	if st.Problem != "" {
		t.Fatalf("serving, but problem %q left in status", st.Problem)
	}
}
