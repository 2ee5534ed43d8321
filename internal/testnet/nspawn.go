package testnet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The Debian root SystemdRoot builds: systemd as PID 1, D-Bus for
// systemctl, iproute2 for the checks and Debian's iPXE so that pixie in the
// container serves real first-stage firmware from /usr/lib/ipxe, as on a
// Debian host.
const (
	debianSuite   = "bookworm" // this machine's release, and the one CI runs
	debianMirror  = "http://deb.debian.org/debian"
	debianVariant = "minbase"
	debianInclude = "systemd,systemd-sysv,dbus,iproute2,ipxe"
	// rootFormat changes whenever what SystemdRoot does to a fresh root
	// changes, so an older cache is not taken for a current one.
	rootFormat = "1"
)

// CacheDir holds what the tests build once and keep between runs.
const CacheDir = "/var/cache/pixie-test"

// rootKey names a cached root after everything that decides its contents.
func rootKey(debootstrapVersion string) string {
	h := sha256.New()
	for _, s := range []string{debianSuite, debianMirror, debianVariant, debianInclude, rootFormat, debootstrapVersion} {
		fmt.Fprintf(h, "%s\x00", s)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// RequireNspawn skips (or, with RequireEnv, fails) the test unless it can
// build and boot a systemd container: root, ip, debootstrap and
// systemd-nspawn (Debian packages debootstrap, systemd-container).
func RequireNspawn(t testing.TB) {
	t.Helper()
	RequireRoot(t)
	if _, err := exec.LookPath("debootstrap"); err != nil {
		skipOrFail(t, "debootstrap missing (Debian package debootstrap)")
	}
	if _, err := exec.LookPath("systemd-nspawn"); err != nil {
		skipOrFail(t, "systemd-nspawn missing (Debian package systemd-container)")
	}
	RequireTools(t, "nsenter", "mount", "umount")
}

// SystemdRoot returns a minimal Debian root with systemd, built with
// debootstrap on first use and cached under CacheDir, keyed on the suite,
// mirror, package list and debootstrap's version. The root is shared:
// never write to it; boot it through NewContainer, which lays an overlay on
// top. Building takes a minute or two and needs the Debian mirror.
func SystemdRoot(t testing.TB) string {
	t.Helper()
	ver, err := exec.Command("dpkg-query", "-W", "-f=${Version}", "debootstrap").Output()
	if err != nil {
		ver = []byte("unknown")
	}
	dir := filepath.Join(CacheDir, "systemd-root-"+debianSuite+"-"+rootKey(string(ver)))
	if _, err := os.Stat(filepath.Join(dir, "sbin", "init")); err == nil {
		return dir
	}
	if err := os.MkdirAll(CacheDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Two test binaries (packages run in parallel) must not build it twice.
	lock, err := os.OpenFile(filepath.Join(CacheDir, "systemd-root.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "sbin", "init")); err == nil {
		return dir
	}
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, "debootstrap", "--variant="+debianVariant, "--include="+debianInclude,
		debianSuite, tmp, debianMirror).CombinedOutput()
	if err != nil {
		os.RemoveAll(tmp)
		t.Fatalf("testnet: debootstrap of a %s root with systemd failed (is %s reachable?): %v\n%s", debianSuite, debianMirror, err, tail(string(out), 30))
	}
	// A machine-id baked into the shared root would make every container
	// the same machine; "uninitialized" is how images ship (systemd then
	// treats the boot as the first one and applies presets, as on Fedora
	// CoreOS).
	if err := os.WriteFile(filepath.Join(tmp, "etc", "machine-id"), []byte("uninitialized\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		t.Fatal(err)
	}
	t.Logf("testnet: built the %s systemd root %s in %s (cached for later runs)", debianSuite, dir, time.Since(start).Round(time.Second))
	return dir
}

// Container is a systemd-nspawn container booted from SystemdRoot on an
// overlay, inside one of the LAN's namespaces: its network is that
// namespace's, never the host's.
type Container struct {
	// Root is the container's file system (the overlay's merged view).
	// Write files there before Boot; read them after.
	Root string
	// Process is systemd-nspawn; its log holds the container's console.
	Process *Process

	lan    *LAN
	ns     string
	dir    string
	leader int // the container's PID 1, as the host sees it
}

// NewContainer mounts an overlay of the cached systemd root for namespace
// ns (which must be the LAN's) and registers a cleanup that stops the
// container and unmounts it. The container is booted by Boot.
func (l *LAN) NewContainer(t testing.TB, ns string) *Container {
	t.Helper()
	if !l.owns(ns) {
		t.Fatalf("testnet: namespace %q is not part of this LAN", ns)
	}
	lower := SystemdRoot(t)
	for _, m := range cleanStaleOverlays() {
		t.Logf("testnet: removed the overlay %s of a test process that is gone", m)
	}
	// The pid in the name lets a later run clean up after this one if it
	// dies before its cleanup runs.
	dir, err := os.MkdirTemp("", fmt.Sprintf("pixie-ct-%d-", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	c := &Container{lan: l, ns: ns, dir: dir, Root: filepath.Join(dir, "root")}
	for _, d := range []string{"upper", "work", "root"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, filepath.Join(dir, "upper"), filepath.Join(dir, "work"))
	if out, err := runTimeout(commandTimeout, "mount", "-t", "overlay", "overlay", "-o", opts, c.Root); err != nil {
		os.RemoveAll(dir)
		t.Fatalf("testnet: overlay mount of the systemd root: %v: %s", err, out)
	}
	t.Cleanup(func() {
		c.Stop()
		if t.Failed() && c.Process != nil {
			t.Logf("testnet: container console (%s):\n%s", c.Process.LogPath, tail(c.Process.Log(), 60))
		}
		if out, err := runTimeout(commandTimeout, "umount", c.Root); err != nil {
			// Busy: a process of the container survived; detach it so
			// the directory can go.
			_, _ = runTimeout(commandTimeout, "umount", "-l", c.Root)
			t.Logf("testnet: umount %s: %v: %s", c.Root, err, out)
		}
		os.RemoveAll(dir)
	})
	return c
}

// Boot starts systemd in the container and waits (at most timeout) until
// it has finished booting. A degraded system (a unit failed) is an error
// naming the failed units.
func (c *Container) Boot(timeout time.Duration) error {
	// --register=no --keep-unit: this machine's PID 1 is not systemd, so
	// there is no machined to register with nor a scope to create.
	cmd := exec.Command("systemd-nspawn", "-q", "-b", "-D", c.Root,
		"--register=no", "--keep-unit",
		"--network-namespace-path=/run/netns/"+c.ns,
		"--machine="+baseName(c.ns))
	p, err := startProcess(cmd, c.lan.Dir, "nspawn-"+strings.TrimPrefix(c.ns, c.lan.base+"-"))
	if err != nil {
		return err
	}
	c.Process = p
	deadline := time.Now().Add(timeout)
	for c.leader == 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("the container's systemd did not start within %s; console:\n%s", timeout, tail(p.Log(), 30))
		}
		select {
		case <-p.Done():
			return fmt.Errorf("systemd-nspawn exited (%v); console:\n%s", p.Err(), tail(p.Log(), 30))
		case <-time.After(200 * time.Millisecond):
		}
		c.leader = c.findLeader()
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	// Until the container's systemd answers on its bus, systemctl says
	// "offline" or cannot connect at all: ask again.
	var state string
	for {
		out, _ := c.Exec(ctx, "systemctl", "is-system-running", "--wait")
		state = strings.TrimSpace(out)
		if state == "running" {
			return nil
		}
		if state == "degraded" || state == "maintenance" || state == "stopping" || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	failed, _ := c.Exec(context.Background(), "systemctl", "--failed", "--no-legend", "--plain")
	return fmt.Errorf("the container booted to state %q within %s; failed units:\n%s", state, timeout, failed)
}

// findLeader returns the pid of the container's init: the process in the
// namespace whose pid inside its own pid namespace is 1.
func (c *Container) findLeader() int {
	out, err := runTimeout(commandTimeout, "ip", "netns", "pids", c.ns)
	if err != nil {
		return 0
	}
	for _, f := range strings.Fields(out) {
		status, err := os.ReadFile("/proc/" + f + "/status")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			ids, ok := strings.CutPrefix(line, "NSpid:")
			if !ok {
				continue
			}
			fs := strings.Fields(ids)
			if len(fs) > 1 && fs[len(fs)-1] == "1" {
				pid, _ := strconv.Atoi(f)
				return pid
			}
		}
	}
	return 0
}

// Command returns a command that runs inside the container (its mount,
// pid, network, IPC and UTS namespaces, root and working directory) as
// root, with a clean environment.
func (c *Container) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	pre := []string{"-t", strconv.Itoa(c.leader), "-m", "-u", "-i", "-n", "-p", "-r", "-w", "--",
		"env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", name}
	cmd := exec.CommandContext(ctx, "nsenter", append(pre, args...)...)
	if c.leader == 0 {
		cmd.Err = fmt.Errorf("testnet: the container is not booted")
	}
	return cmd
}

// Exec runs a command inside the container and returns its combined
// output; a non-zero exit is an error carrying the output. Without a
// deadline on ctx it waits at most 60 s.
func (c *Container) Exec(ctx context.Context, name string, args ...string) (string, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
	}
	out, err := c.Command(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s in the container: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Stop powers the container off (systemd-nspawn turns SIGTERM into a clean
// shutdown) and waits for it; Process.Stop kills it after 5 s.
func (c *Container) Stop() {
	if c.Process == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if c.leader != 0 {
		_ = c.Command(ctx, "systemctl", "poweroff").Run()
		select {
		case <-c.Process.Done():
		case <-ctx.Done():
		}
	}
	c.Process.Stop()
}

// cleanStaleOverlays unmounts and removes the container overlays
// (<tmp>/pixie-ct-<pid>-*/root) of test processes that no longer run and
// returns their mount points. Only the overlay's upper layer is deleted;
// the cached root under it is never written.
func cleanStaleOverlays() []string {
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	prefix := filepath.Join(os.TempDir(), "pixie-ct-")
	var removed []string
	for _, line := range strings.Split(string(info), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || !strings.HasPrefix(f[4], prefix) || filepath.Base(f[4]) != "root" {
			continue
		}
		mnt := f[4]
		digits, _, _ := strings.Cut(strings.TrimPrefix(mnt, prefix), "-")
		pid, err := strconv.Atoi(digits)
		if err != nil || pid <= 0 || processAlive(pid) {
			continue
		}
		if _, err := runTimeout(commandTimeout, "umount", "-l", mnt); err != nil {
			continue
		}
		os.RemoveAll(filepath.Dir(mnt))
		removed = append(removed, mnt)
	}
	return removed
}
