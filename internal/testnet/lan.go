package testnet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Addresses of the test LAN. They exist only inside the namespaces NewLAN
// creates; nothing here is ever configured in the default namespace.
const (
	Subnet    = "10.77.0.0/24"
	PrefixLen = 24
	RouterIP  = "10.77.0.1"
	ServerIP  = "10.77.0.2"

	// The router's DHCP pool. Addresses below it are free for static
	// clients (AddClient).
	DHCPRangeStart = "10.77.0.100"
	DHCPRangeEnd   = "10.77.0.199"

	// RouterIPv6 is a ULA on the router, so its dnsmasq can send router
	// advertisements: without them Debian 12's iPXE waits ~16 s for IPv6
	// autoconfiguration on every boot.
	RouterIPv6    = "fd77:77::1"
	IPv6Prefix    = "fd77:77::"
	IPv6PrefixLen = 64

	// Iface is the name of the LAN interface inside every host namespace
	// (router, server, clients): pass it to pixie's --interface.
	Iface = "eth0"

	// Bridge is the bridge inside the lan namespace.
	Bridge = "br0"

	// DefaultPrefix starts every namespace name NewLAN creates.
	DefaultPrefix = "pxt"
)

// commandTimeout bounds every short configuration command (ip, sysctl).
const commandTimeout = 30 * time.Second

// Options configures NewLAN.
type Options struct {
	// Prefix starts every namespace name, followed by the test process's
	// pid: "<prefix><pid>-<random>-<role>". Namespaces with this prefix whose
	// pid is no longer running are deleted by NewLAN. Letters only; default
	// DefaultPrefix.
	Prefix string
}

// LAN is a bridged test network built from namespaces. Create it with
// NewLAN; its methods are safe for concurrent use (e.g. two VMs booting in
// parallel subtests).
type LAN struct {
	// Namespace names. BridgeNS holds the bridge and the VMs' taps (QEMU
	// runs there); RouterNS and ServerNS each hold one end of a veth whose
	// other end is a bridge port.
	BridgeNS, RouterNS, ServerNS string

	// Dir is a per-LAN temporary directory for logs, configs and VM state.
	Dir string

	t    testing.TB
	base string // "<prefix><pid>-<random>"
	wd   *watchdog

	mu    sync.Mutex
	ns    []string // every namespace created, in creation order
	procs []*Process
}

// NewLAN creates the namespaces lan (with bridge br0), router (RouterIP) and
// server (ServerIP), connects router and server to the bridge, brings every
// link up and registers a cleanup that stops all processes started through
// the LAN, kills anything else left in its namespaces and deletes them.
// Failures end the test. Call RequireRoot first.
func NewLAN(t testing.TB, opts Options) *LAN {
	t.Helper()
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if strings.Trim(prefix, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		t.Fatalf("testnet: prefix %q must be letters only", prefix)
	}
	for _, name := range CleanStale(prefix) {
		t.Logf("testnet: removed stale namespace %s", name)
	}

	var rnd [3]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatal(err)
	}
	l := &LAN{
		t:    t,
		base: fmt.Sprintf("%s%d-%s", prefix, os.Getpid(), hex.EncodeToString(rnd[:])),
		Dir:  t.TempDir(),
	}
	// Registered before anything exists, so a failure half-way through
	// building still removes what was made.
	t.Cleanup(l.cleanup)
	var err error
	if l.wd, err = startWatchdog(); err != nil {
		t.Fatal(err)
	}

	if l.BridgeNS, err = l.addNamespace("lan"); err != nil {
		t.Fatal(err)
	}
	br := [][]string{
		{"link", "add", Bridge, "type", "bridge", "stp_state", "0", "forward_delay", "0", "mcast_snooping", "0"},
		{"link", "set", Bridge, "up"},
	}
	for _, args := range br {
		if err := ipIn(l.BridgeNS, args...); err != nil {
			t.Fatal(err)
		}
	}
	if l.RouterNS, err = l.AddClient("router", fmt.Sprintf("%s/%d", RouterIP, PrefixLen)); err != nil {
		t.Fatal(err)
	}
	if err := ipIn(l.RouterNS, "-6", "addr", "add", fmt.Sprintf("%s/%d", RouterIPv6, IPv6PrefixLen), "dev", Iface, "nodad"); err != nil {
		t.Fatal(err)
	}
	if l.ServerNS, err = l.AddClient("server", fmt.Sprintf("%s/%d", ServerIP, PrefixLen)); err != nil {
		t.Fatal(err)
	}
	return l
}

// addNamespace creates the namespace "<base>-<role>" with loopback up and
// IPv6 duplicate address detection off, so addresses (link-local ones
// included) are usable at once instead of after a second or two.
func (l *LAN) addNamespace(role string) (string, error) {
	name := l.base + "-" + role
	if err := l.wd.track(name); err != nil {
		return "", fmt.Errorf("namespace watchdog: %w", err)
	}
	if err := ip("netns", "add", name); err != nil {
		return "", err
	}
	l.mu.Lock()
	l.ns = append(l.ns, name)
	l.mu.Unlock()
	// /proc/sys/net shows the namespace of the process that opens it.
	const noDAD = "echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad && echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad"
	if out, err := runTimeout(commandTimeout, "ip", "netns", "exec", name, "sh", "-c", noDAD); err != nil {
		return "", fmt.Errorf("disable IPv6 DAD in %s: %v: %s", name, err, out)
	}
	return name, ipIn(name, "link", "set", "lo", "up")
}

// AddClient creates another host namespace named after role (at most 13
// characters: it also names the bridge port "v-<role>") and connects it to
// the bridge with a veth whose inner end is Iface. cidr ("10.77.0.5/24") is
// assigned to Iface when not empty; leave it empty for a namespace that gets
// its address over DHCP. It returns the namespace name.
func (l *LAN) AddClient(role, cidr string) (string, error) {
	port := "v-" + role
	if role == "" || len(port) > 15 || strings.ContainsAny(role, "/ \t") {
		return "", fmt.Errorf("testnet: bad client name %q (1-13 characters, no spaces or slashes)", role)
	}
	ns, err := l.addNamespace(role)
	if err != nil {
		return "", err
	}
	// The peer is created directly inside ns, so every namespace can call
	// its end eth0 without clashing in the bridge namespace.
	steps := [][]string{
		{"-n", l.BridgeNS, "link", "add", port, "type", "veth", "peer", "name", Iface, "netns", ns},
		{"-n", l.BridgeNS, "link", "set", port, "master", Bridge, "up"},
		{"-n", ns, "link", "set", Iface, "up"},
	}
	if cidr != "" {
		steps = append(steps, []string{"-n", ns, "addr", "add", cidr, "dev", Iface})
	}
	for _, args := range steps {
		if err := ip(args...); err != nil {
			return "", err
		}
	}
	return ns, nil
}

// AddTap creates a tap device in the bridge namespace, enslaved to the
// bridge, for one VM. name must be a valid interface name (at most 15
// characters); it only has to be unique within this LAN. QEMU attaches to it
// with -netdev tap,ifname=<name>,script=no,downscript=no when it runs in
// BridgeNS, which RunVM does.
func (l *LAN) AddTap(name string) (string, error) {
	if name == "" || len(name) > 15 || strings.ContainsAny(name, "/ \t") {
		return "", fmt.Errorf("testnet: bad tap name %q (1-15 characters, no spaces or slashes)", name)
	}
	for _, args := range [][]string{
		{"tuntap", "add", "dev", name, "mode", "tap"},
		{"link", "set", name, "master", Bridge, "up"},
	} {
		if err := ipIn(l.BridgeNS, args...); err != nil {
			return "", err
		}
	}
	return name, nil
}

// owns reports whether ns is one of the LAN's namespaces.
func (l *LAN) owns(ns string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range l.ns {
		if n == ns {
			return true
		}
	}
	return false
}

// Command returns a command that runs name inside namespace ns via
// `ip netns exec`. It refuses (the command's Start fails) any namespace this
// LAN did not create, so a typo can never start a DHCP server in the default
// namespace.
func (l *LAN) Command(ns, name string, args ...string) *exec.Cmd {
	return l.CommandContext(context.Background(), ns, name, args...)
}

// CommandContext is Command with a context that kills the command.
func (l *LAN) CommandContext(ctx context.Context, ns, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
	if !l.owns(ns) {
		cmd.Err = fmt.Errorf("testnet: namespace %q is not part of this LAN", ns)
	}
	return cmd
}

// Exec runs name in namespace ns, waits at most 60 s, and returns its
// combined output. A non-zero exit is an error that includes the output.
func (l *LAN) Exec(ns, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := l.CommandContext(ctx, ns, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s in %s: %w: %s", name, strings.Join(args, " "), ns, err, out)
	}
	return string(out), nil
}

// Start starts name in namespace ns in the background with stdout and
// stderr going to a log file in Dir. The process is stopped by the LAN's
// cleanup if it is still running, and dies with the test process if that is
// killed first.
func (l *LAN) Start(ns, name string, args ...string) (*Process, error) {
	cmd := l.Command(ns, name, args...)
	role := strings.TrimPrefix(ns, l.base+"-")
	p, err := startProcess(cmd, l.Dir, role+"-"+baseName(name))
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	return p, nil
}

// cleanup stops the LAN's processes, kills whatever else still runs in its
// namespaces and deletes them. On failure it logs the tail of each
// process's log, which is usually where the reason is.
func (l *LAN) cleanup() {
	l.mu.Lock()
	procs, nss := l.procs, l.ns
	l.procs, l.ns = nil, nil
	l.mu.Unlock()

	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Stop()
	}
	if l.t.Failed() {
		for _, p := range procs {
			l.t.Logf("testnet: %s (%s) log tail:\n%s", p.Name, p.LogPath, tail(p.Log(), 40))
		}
	}
	for i := len(nss) - 1; i >= 0; i-- {
		if err := removeNamespace(nss[i]); err != nil {
			l.t.Errorf("testnet: %v", err)
		}
	}
	if l.wd != nil {
		l.wd.stop()
	}
}

// CleanStale deletes namespaces named "<prefix><pid>-..." whose pid is not
// a running process: leftovers of a test binary that was killed (by go
// test's -timeout, or ^C) before its cleanup ran. Namespaces of other test
// processes that are still running are left alone. It returns the names it
// removed.
func CleanStale(prefix string) []string {
	out, err := runTimeout(commandTimeout, "ip", "netns", "list")
	if err != nil {
		return nil
	}
	var removed []string
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		name := fields[0]
		pid, ok := stalePid(prefix, name)
		if !ok || processAlive(pid) {
			continue
		}
		if removeNamespace(name) == nil {
			removed = append(removed, name)
		}
	}
	return removed
}

// stalePid parses the pid out of a namespace name "<prefix><pid>-...".
func stalePid(prefix, name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return 0, false
	}
	digits, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(digits)
	return pid, err == nil && pid > 0
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// removeNamespace kills every process still inside ns (only processes this
// package started end up there) and deletes it. A namespace outlives
// `ip netns del` while a process holds it, so the kill comes first.
func removeNamespace(ns string) error {
	if out, err := runTimeout(commandTimeout, "ip", "netns", "pids", ns); err == nil {
		for _, f := range strings.Fields(out) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	if err := ip("netns", "del", ns); err != nil {
		return fmt.Errorf("delete namespace %s: %w", ns, err)
	}
	return nil
}

// ip runs the ip command in the default namespace: only ever used for
// `ip netns ...` and `ip -n <ours> ...`, never to configure a real link.
func ip(args ...string) error {
	if out, err := runTimeout(commandTimeout, "ip", args...); err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out))
	}
	return nil
}

// ipIn runs `ip -n ns args...`.
func ipIn(ns string, args ...string) error {
	return ip(append([]string{"-n", ns}, args...)...)
}

func runTimeout(d time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

func baseName(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
