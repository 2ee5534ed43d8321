package storm

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/store"
	"github.com/pixie-boot/pixie/internal/testnet"
)

// Options configures Start.
type Options struct {
	// Pixie is the pixie binary. Required.
	Pixie string
	// Router also starts the LAN's DHCP server (dnsmasq) in the router
	// namespace. The storm does not need it (the client address pool
	// stands in for it).
	Router bool
	// EventsMax and EventsMaxAge, when set, are written to pixie's
	// settings before it starts (events_max, events_max_age).
	EventsMax    int64
	EventsMaxAge string
	// KernelSize and InitrdSize are the sizes of the fake kernel and
	// initrd of the default profile (default 256 KiB and 1 MiB).
	KernelSize, InitrdSize int64
	// LogLevel is pixie's --log-level (default info: a storm at debug
	// level mostly measures the log).
	LogLevel string
	// Pool is how many client addresses the client namespace gets
	// (default and at most 150).
	Pool int
	// HTTPPort is pixie's --http-port (default 8080).
	HTTPPort int
}

// Env is a throw-away LAN with pixie serving in its server namespace and
// a client namespace ("storm") holding the clients' address pool.
type Env struct {
	LAN      *testnet.LAN
	ClientNS string
	Pixie    *testnet.Process
	Router   *testnet.Process
	DataDir  string
	Socket   string
	Addrs    []netip.Addr
	URL      string // pixie's HTTP base URL
}

// poolAddrs are the client addresses: the LAN's /24 outside the router's
// DHCP range and the router's and server's own addresses. At most 150, so
// the server namespace's ARP table stays far below the kernel's shared
// neighbour-table limit (gc_thresh3, 1024 for all namespaces together).
func poolAddrs(n int) []netip.Addr {
	var out []netip.Addr
	for _, r := range [][2]int{{10, 99}, {200, 254}} {
		for i := r[0]; i <= r[1] && len(out) < n; i++ {
			out = append(out, netip.AddrFrom4([4]byte{10, 77, 0, byte(i)}))
		}
	}
	return out
}

// Start builds the LAN, prepares pixie's data directory (fake assets for
// the default profile, retention settings) and starts `pixie serve` in the
// server namespace, waiting until it answers HTTP from the client
// namespace. Everything is removed by t's cleanups. Failures end t.
func Start(t testing.TB, o Options) *Env {
	t.Helper()
	if o.Pixie == "" {
		t.Fatal("storm: Options.Pixie is required")
	}
	if o.KernelSize <= 0 {
		o.KernelSize = 256 << 10
	}
	if o.InitrdSize <= 0 {
		o.InitrdSize = 1 << 20
	}
	if o.LogLevel == "" {
		o.LogLevel = "info"
	}
	if o.Pool <= 0 || o.Pool > 150 {
		o.Pool = 150
	}
	if o.HTTPPort == 0 {
		o.HTTPPort = 8080
	}
	lan := testnet.NewLAN(t, testnet.Options{Prefix: "pxs"})
	e := &Env{LAN: lan, DataDir: filepath.Join(lan.Dir, "data"), Addrs: poolAddrs(o.Pool),
		URL: fmt.Sprintf("http://%s:%d", testnet.ServerIP, o.HTTPPort)}
	var err error
	if o.Router {
		e.Router, err = lan.StartRouterDHCP()
		if err != nil {
			t.Fatal(err)
		}
	}
	if e.ClientNS, err = lan.AddClient("storm", ""); err != nil {
		t.Fatal(err)
	}
	var batch strings.Builder
	for _, a := range e.Addrs {
		fmt.Fprintf(&batch, "addr add %s/%d dev %s\n", a, testnet.PrefixLen, testnet.Iface)
	}
	batchFile := filepath.Join(lan.Dir, "storm-addrs.batch")
	if err := os.WriteFile(batchFile, []byte(batch.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := lan.Exec(e.ClientNS, "ip", "-batch", batchFile); err != nil {
		t.Fatal(err)
	}

	if err := e.prepareData(o); err != nil {
		t.Fatal(err)
	}
	sockDir, err := os.MkdirTemp("", "pixie-storm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	e.Socket = filepath.Join(sockDir, "pixie.sock")

	e.Pixie, err = lan.Start(lan.ServerNS, o.Pixie, "serve",
		"--interface", testnet.Iface,
		"--address", testnet.ServerIP,
		"--data-dir", e.DataDir,
		"--http-port", strconv.Itoa(o.HTTPPort),
		"--socket", e.Socket,
		"--log-level", o.LogLevel,
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Pixie.Stop)
	if err := e.Pixie.WaitLog("pixie serving", 60*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := e.waitHTTP(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	return e
}

// prepareData writes the default profile's fake kernel and initrd, and
// creates the database with the retention settings before pixie opens it.
func (e *Env) prepareData(o Options) error {
	dir := filepath.Join(e.DataDir, "assets", "first-time")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, size := range map[string]int64{"vmlinuz": o.KernelSize, "initrd.img": o.InitrdSize} {
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(rand.Uint32())
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	if o.EventsMax == 0 && o.EventsMaxAge == "" {
		return nil
	}
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(e.DataDir, "pixie.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	if o.EventsMax > 0 {
		if err := st.SetSetting(ctx, store.SettingEventsMax, strconv.FormatInt(o.EventsMax, 10)); err != nil {
			return err
		}
	}
	if o.EventsMaxAge != "" {
		if err := st.SetSetting(ctx, store.SettingEventsMaxAge, o.EventsMaxAge); err != nil {
			return err
		}
	}
	return nil
}

// Enter runs f on a thread in the client namespace.
func (e *Env) Enter(f func() error) error { return e.LAN.InNamespace(e.ClientNS, f) }

// Config returns a storm configuration for n clients against this LAN.
func (e *Env) Config(n int, ramp time.Duration, uefiShare float64) Config {
	return Config{
		Clients:   n,
		Ramp:      ramp,
		UEFIShare: uefiShare,
		Iface:     testnet.Iface,
		ServerIP:  netip.MustParseAddr(testnet.ServerIP),
		RouterIP:  netip.MustParseAddr(testnet.RouterIP),
		Addrs:     e.Addrs,
		Enter:     e.Enter,
	}
}

// waitHTTP waits until pixie answers /healthz from the client namespace.
func (e *Env) waitHTTP(timeout time.Duration) error {
	r, err := newRunner(Config{Enter: e.Enter, HTTPTimeout: 2 * time.Second})
	if err != nil {
		return err
	}
	hc := r.httpClient(e.Addrs[0])
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	for {
		_, _, err := fetch(context.Background(), hc, e.URL+"/healthz", true)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pixie does not answer %s/healthz from the client namespace: %v", e.URL, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// API returns a client of pixie's control socket.
func (e *Env) API() *api.Client { return api.NewClient(e.Socket) }

// Counters returns pixie's counters (`pixie status`).
func (e *Env) Counters(ctx context.Context) (map[string]uint64, error) {
	st, err := e.API().Status(ctx)
	return st.Counters, err
}

// Usage is what a process used so far.
type Usage struct {
	RSS, PeakRSS int64         // VmRSS and VmHWM, bytes
	CPU          time.Duration // user + system time
}

func (u Usage) String() string {
	return fmt.Sprintf("RSS %.1f MiB, peak %.1f MiB, CPU %s", MiB(u.RSS), MiB(u.PeakRSS), u.CPU.Round(10*time.Millisecond))
}

// MiB converts bytes to MiB.
func MiB(b int64) float64 { return float64(b) / (1 << 20) }

// PixieUsage reads pixie's memory and CPU time from /proc.
func (e *Env) PixieUsage() (Usage, error) { return ProcUsage(e.Pixie.Pid()) }

// ProcUsage reads VmRSS, VmHWM (/proc/PID/status) and utime+stime
// (/proc/PID/stat) of a process.
func ProcUsage(pid int) (Usage, error) {
	var u Usage
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		f := strings.Fields(v)
		if len(f) < 1 {
			continue
		}
		kb, _ := strconv.ParseInt(f[0], 10, 64)
		if k == "VmRSS" {
			u.RSS = kb << 10
		} else {
			u.PeakRSS = kb << 10
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, err
	}
	// Fields after the command name (which may hold spaces), from field 3.
	i := strings.LastIndexByte(string(stat), ')')
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return u, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)  // field 14
	sys, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	const clkTck = 100                        // USER_HZ on Linux
	u.CPU = time.Duration(ut+sys) * time.Second / clkTck
	return u, nil
}

// CountEvents counts the rows of pixie's events table, reading the
// database read-only beside the running daemon (WAL allows it; opening it
// through the store would trim it first).
func (e *Env) CountEvents(ctx context.Context) (int64, error) {
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(e.DataDir, "pixie.db")+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int64
	err = db.QueryRowContext(ctx, "SELECT count(*) FROM events").Scan(&n)
	return n, err
}
