package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/internal/testnet"
)

// The unit's capability set, CAP_NET_BIND_SERVICE (10) and CAP_NET_RAW
// (13), as /proc/PID/status prints it.
const unitCaps = "0000000000002400"

// systemdBox is a booted Debian container with systemd as PID 1 and the
// pixie binary at /usr/local/bin/pixie, in the server namespace of a LAN.
type systemdBox struct {
	t   *testing.T
	LAN *testnet.LAN
	CT  *testnet.Container
}

// newSystemdBox builds the LAN, gives the server namespace a default route
// (pixie without --interface serves on the default route's interface),
// prepares the container's root with prepare (may be nil) and boots it.
func newSystemdBox(t *testing.T, prepare func(root string)) *systemdBox {
	t.Helper()
	testnet.RequireNspawn(t)
	bin := pixieBinary(t)
	lan := testnet.NewLAN(t, testnet.Options{})
	if _, err := lan.Exec(lan.ServerNS, "ip", "route", "add", "default", "via", testnet.RouterIP); err != nil {
		t.Fatal(err)
	}
	ct := lan.NewContainer(t, lan.ServerNS)
	if err := testnet.CopyFile(filepath.Join(ct.Root, "usr/local/bin/pixie"), bin); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(ct.Root, "usr/local/bin/pixie"), 0o755); err != nil {
		t.Fatal(err)
	}
	if prepare != nil {
		prepare(ct.Root)
	}
	start := time.Now()
	if err := ct.Boot(3 * time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Logf("container booted (systemd running) in %s", time.Since(start).Round(100*time.Millisecond))
	b := &systemdBox{t: t, LAN: lan, CT: ct}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := ct.Exec(context.Background(), "journalctl", "-u", "pixie", "--no-pager", "-n", "60")
			t.Logf("journalctl -u pixie:\n%s", out)
		}
	})
	return b
}

// run runs a command in the container as root and ends the test if it
// fails.
func (b *systemdBox) run(args ...string) string {
	b.t.Helper()
	out, err := b.CT.Exec(context.Background(), args[0], args[1:]...)
	if err != nil {
		b.t.Fatal(err)
	}
	return out
}

// try runs a command in the container and returns its output and error.
func (b *systemdBox) try(args ...string) (string, error) {
	return b.CT.Exec(context.Background(), args[0], args[1:]...)
}

// state is `systemctl is-active pixie` (which exits non-zero unless active).
func (b *systemdBox) state() string {
	out, _ := b.try("systemctl", "is-active", "pixie")
	return strings.TrimSpace(out)
}

// mainPID is the pixie service's main process (inside the container's pid
// namespace), 0 when it does not run.
func (b *systemdBox) mainPID() int {
	b.t.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(b.run("systemctl", "show", "-p", "MainPID", "--value", "pixie")))
	if err != nil {
		b.t.Fatal(err)
	}
	return pid
}

// waitServing polls `pixie status --json` (as user, "" for root) until the
// daemon serves, and returns that status.
func (b *systemdBox) waitServing(user string, socket string) api.Status {
	b.t.Helper()
	args := []string{"pixie", "status", "--json"}
	if socket != "" {
		args = append(args, "--socket", socket)
	}
	if user != "" {
		args = append([]string{"runuser", "-u", user, "--"}, args...)
	}
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		out, err := b.try(args...)
		last = out
		var st api.Status
		if err == nil && json.Unmarshal([]byte(out), &st) == nil && st.Serving {
			return st
		}
		time.Sleep(500 * time.Millisecond)
	}
	b.t.Fatalf("pixie did not serve within 60 s; last `pixie status`: %s", last)
	return api.Status{}
}

// listening checks with ss that something in the container listens on
// each port, and names the ports nobody does.
func (b *systemdBox) listening(udp []int, tcp []int) {
	b.t.Helper()
	u := b.run("ss", "-Hlun")
	tc := b.run("ss", "-Hltn")
	for _, p := range udp {
		if !strings.Contains(u, fmt.Sprintf(":%d ", p)) {
			b.t.Errorf("nothing listens on UDP %d:\n%s", p, u)
		}
	}
	for _, p := range tcp {
		if !strings.Contains(tc, fmt.Sprintf(":%d ", p)) {
			b.t.Errorf("nothing listens on TCP %d:\n%s", p, tc)
		}
	}
}

// procCaps returns the Cap* lines of /proc/PID/status (inside the
// container) as name -> hex mask.
func (b *systemdBox) procCaps(pid int) map[string]string {
	b.t.Helper()
	caps := map[string]string{}
	for _, line := range strings.Split(b.run("cat", fmt.Sprintf("/proc/%d/status", pid)), "\n") {
		name, val, ok := strings.Cut(line, ":")
		if ok && strings.HasPrefix(name, "Cap") {
			caps[name] = strings.TrimSpace(val)
		}
	}
	return caps
}

// TestSystemdService installs pixie with `pixie install service` under a
// live systemd (PID 1 of a Debian container in the LAN's server
// namespace) and drives it the way an administrator would: start, stop,
// restart, status, a restart that keeps the database, the unit's
// hardening seen from the running daemon, other flags, uninstall and
// --purge.
func TestSystemdService(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a systemd container")
	}
	b := newSystemdBox(t, nil)

	out := b.run("pixie", "install", "service")
	for _, want := range []string{"installed the pixie service (systemd)", "/etc/systemd/system/pixie.service", "created pixie", "started, and starts at every boot"} {
		if !strings.Contains(out, want) {
			t.Errorf("install service output lacks %q:\n%s", want, out)
		}
	}
	if got := strings.TrimSpace(b.run("systemctl", "is-enabled", "pixie")); got != "enabled" {
		t.Errorf("systemctl is-enabled pixie = %q, want enabled", got)
	}
	if got := b.state(); got != "active" {
		t.Fatalf("after install, systemctl is-active pixie = %q, want active", got)
	}
	st := b.waitServing("", "")
	if st.Interface != testnet.Iface || st.Address != testnet.ServerIP {
		t.Errorf("the service serves on %s %s, want %s %s (the default route's interface)", st.Interface, st.Address, testnet.Iface, testnet.ServerIP)
	}
	b.listening([]int{67, 4011, 69}, []int{8080})
	status := b.run("pixie", "status")
	if !strings.Contains(status, "service:    installed (systemd), running") || !strings.Contains(status, "/usr/local/bin/pixie serve") {
		t.Errorf("pixie status lacks the service line:\n%s", status)
	}
	if again := b.run("pixie", "install", "service"); !strings.Contains(again, "already installed") {
		t.Logf("second install (same flags) said:\n%s", again)
	}

	t.Run("hardening", func(t *testing.T) {
		b := *b
		b.t = t
		pid := b.mainPID()
		caps := b.procCaps(pid)
		for _, name := range []string{"CapEff", "CapPrm", "CapBnd", "CapAmb"} {
			if caps[name] != unitCaps {
				t.Errorf("%s of the daemon = %s, want %s (CAP_NET_BIND_SERVICE, CAP_NET_RAW only); all: %v", name, caps[name], unitCaps, caps)
			}
		}
		if nnp := b.run("sh", "-c", fmt.Sprintf("grep NoNewPrivs /proc/%d/status", pid)); !strings.Contains(nnp, "1") {
			t.Errorf("NoNewPrivileges not in force: %s", nnp)
		}
		// The daemon's own mount namespace: what it sees is what the unit
		// set up. Root cannot write a read-only bind mount, whatever its
		// capabilities; the daemon has not even CAP_SYS_ADMIN to remount.
		probe := func(path string) error {
			_, err := b.try("nsenter", "-t", strconv.Itoa(pid), "-m", "--", "sh", "-c", "echo probe > "+path)
			return err
		}
		for _, p := range []string{"/etc/pixie-probe", "/usr/local/bin/pixie-probe", "/var/pixie-probe", "/var/lib/pixie-probe", "/root/pixie-probe", "/boot/pixie-probe"} {
			if err := probe(p); err == nil {
				t.Errorf("the daemon's view lets it write %s", p)
			}
		}
		for _, p := range []string{"/var/lib/pixie/probe", "/run/pixie/probe", "/tmp/probe"} {
			if err := probe(p); err != nil {
				t.Errorf("the daemon cannot write %s: %v", p, err)
			}
		}
		// PrivateTmp: its /tmp is not the system's.
		if _, err := os.Stat(filepath.Join(b.CT.Root, "tmp/probe")); err == nil {
			t.Errorf("the daemon's /tmp is the system's /tmp (PrivateTmp not in force)")
		}
		if devs := b.run("nsenter", "-t", strconv.Itoa(pid), "-m", "--", "ls", "/dev"); strings.Contains(devs, "tty1") || strings.Contains(devs, "loop") {
			t.Errorf("PrivateDevices not in force, /dev has:\n%s", devs)
		}
		b.run("rm", "-f", "/var/lib/pixie/probe", "/run/pixie/probe")
		// systemd's own summary of the sandbox, for the log.
		if out, err := b.try("systemd-analyze", "security", "--no-pager", "pixie"); err == nil {
			lines := strings.Split(strings.TrimSpace(out), "\n")
			t.Logf("systemd-analyze security pixie: %s", lines[len(lines)-1])
		}
	})

	t.Run("stop start restart keep the database", func(t *testing.T) {
		b := *b
		b.t = t
		const mac = "52:54:00:18:00:01"
		b.run("pixie", "machines", "set", mac, "--hostname", "kept-across-restarts")
		out := b.run("pixie", "stop")
		t.Logf("pixie stop: %s", strings.TrimSpace(out))
		if got := b.state(); got != "inactive" {
			t.Fatalf("after pixie stop, is-active = %q, want inactive", got)
		}
		if out, err := b.try("pixie", "status"); err == nil || !strings.Contains(out, "stopped") && !strings.Contains(out, "not running") {
			t.Errorf("pixie status with the service stopped (err %v) does not say so:\n%s", err, out)
		}
		b.run("pixie", "start")
		if got := b.state(); got != "active" {
			t.Fatalf("after pixie start, is-active = %q, want active", got)
		}
		b.waitServing("", "")
		before := b.mainPID()
		b.run("pixie", "restart")
		b.waitServing("", "")
		if after := b.mainPID(); after == before || after == 0 {
			t.Errorf("pixie restart: main pid %d -> %d, want a new process", before, after)
		}
		show := b.run("pixie", "machines", "show", mac)
		if !strings.Contains(show, "kept-across-restarts") {
			t.Errorf("after stop, start and restart the machine's hostname is gone:\n%s", show)
		}
	})

	t.Run("flags and socket group", func(t *testing.T) {
		b := *b
		b.t = t
		if out, err := b.try("pixie", "install", "service", "--interface", "eth0"); err == nil || !strings.Contains(out, "--force") {
			t.Errorf("install with other flags and no --force (err %v) did not refuse and name --force:\n%s", err, out)
		}
		out := b.run("pixie", "install", "service", "--force", "--interface", testnet.Iface, "--data-dir", "/srv/pixie", "--socket-group", "pxadm")
		t.Logf("install --force:\n%s", out)
		unit := b.run("cat", "/etc/systemd/system/pixie.service")
		for _, want := range []string{"--interface eth0", "--data-dir /srv/pixie", "--socket-group pxadm", "SupplementaryGroups=pxadm", "ReadWritePaths=/srv/pixie /run/pixie"} {
			if !strings.Contains(unit, want) {
				t.Errorf("unit lacks %q:\n%s", want, unit)
			}
		}
		b.run("useradd", "--create-home", "-G", "pxadm", "alice")
		b.run("useradd", "--create-home", "mallory")
		st := b.waitServing("alice", "")
		if st.DataDir != "/srv/pixie" {
			t.Errorf("status data dir = %q, want /srv/pixie", st.DataDir)
		}
		if _, err := os.Stat(filepath.Join(b.CT.Root, "srv/pixie/pixie.db")); err != nil {
			t.Errorf("no database in the --data-dir: %v", err)
		}
		if grp := strings.TrimSpace(b.run("stat", "-c", "%G %a", "/run/pixie/pixie.sock")); !strings.HasPrefix(grp, "pxadm ") {
			t.Errorf("control socket group/mode = %q, want group pxadm", grp)
		}
		if out, err := b.try("runuser", "-u", "mallory", "--", "pixie", "status"); err == nil || !strings.Contains(out, "permission denied on the pixie socket") {
			t.Errorf("a user outside the socket group (err %v) was not refused with a clear message:\n%s", err, out)
		}
	})

	t.Run("uninstall and purge", func(t *testing.T) {
		b := *b
		b.t = t
		out := b.run("pixie", "uninstall", "service")
		t.Logf("uninstall service:\n%s", out)
		if _, err := os.Stat(filepath.Join(b.CT.Root, "etc/systemd/system/pixie.service")); err == nil {
			t.Errorf("the unit is still there after uninstall service")
		}
		if got := b.state(); got == "active" {
			t.Errorf("pixie still runs after uninstall service")
		}
		if _, err := os.Stat(filepath.Join(b.CT.Root, "srv/pixie/pixie.db")); err != nil {
			t.Errorf("uninstall service (no --purge) lost the database: %v", err)
		}
		// Back with the defaults, then gone with its data.
		b.run("pixie", "install", "service")
		b.waitServing("", "")
		b.run("pixie", "uninstall", "service", "--purge")
		if _, err := os.Stat(filepath.Join(b.CT.Root, "var/lib/pixie")); err == nil {
			t.Errorf("/var/lib/pixie is still there after uninstall service --purge")
		}
		if got := b.state(); got == "active" {
			t.Errorf("pixie still runs after uninstall service --purge")
		}
		if list, _ := b.try("systemctl", "list-unit-files", "pixie.service", "--no-legend"); strings.Contains(list, "pixie.service") {
			t.Errorf("systemd still knows pixie.service: %s", list)
		}
	})
}
