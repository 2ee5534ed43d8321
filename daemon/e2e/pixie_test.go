package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/internal/pgtest"
	"github.com/pixie-boot/pixie/internal/testnet"
)

// What the daemon boots by default: the "first-time" profile that a fresh
// database holds, whose kernel and initrd the tests put into the asset
// store under these names.
const (
	defaultProfile  = "first-time"
	firstTimeKernel = "first-time/vmlinuz"
	firstTimeInitrd = "first-time/initrd.img"
)

// build is the pixie binary, built once per test binary run by
// pixieBinary and removed by TestMain.
var build struct {
	once sync.Once
	dir  string
	bin  string
	took time.Duration
	err  error
}

// testPG is the PostgreSQL cluster of the shared-store tests (socket only,
// in a temporary directory the server namespaces reach as a file).
var testPG pgtest.Cluster

func TestMain(m *testing.M) {
	code := m.Run()
	testPG.Stop()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// pixieBinary builds cmd/pixie the way `go build` does by default (cgo on,
// no tags, no flags: mattn/go-sqlite3 comes from the build cache) and
// returns its path. The first caller pays for the build.
func pixieBinary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "pixie-e2e-bin-")
		if build.err != nil {
			return
		}
		bin := filepath.Join(build.dir, "pixie")
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		start := time.Now()
		// go test puts its own GOROOT/bin first on PATH.
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "../../cmd/pixie")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build ../../cmd/pixie: %v\n%s", err, out)
			return
		}
		build.bin, build.took = bin, time.Since(start)
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bin
}

// pixieLAN is a test LAN (router with its ordinary DHCP server, server
// namespace) with the pixie daemon serving on it, and the means to drive
// it: its CLI, HTTP fetches from inside the LAN and VM boots.
type pixieLAN struct {
	LAN     *testnet.LAN
	Bin     string // the pixie binary
	DataDir string // --data-dir
	Socket  string // --socket
	Daemon  *testnet.Process
	Router  *testnet.Process // the router's dnsmasq
	Busybox string

	mu     sync.Mutex
	taps   int
	lastVM *testnet.VMResult // for the failure dump
}

// pixieOptions configures startPixieLAN.
type pixieOptions struct {
	// WithOS puts the Debian kernel and the test initrd into the asset
	// store as the default profile's kernel and initrd.
	WithOS bool
	// ARM64 makes WithOS use Debian's arm64 kernel and an arm64 initrd
	// (testnet.FindKernelARM64) instead of the host's.
	ARM64 bool
	// SocketDir holds the control socket; default a new temporary
	// directory (short enough for a unix socket path).
	SocketDir string
	// RouterConf are extra lines for the router's dnsmasq, e.g.
	// testnet.NextServer(testnet.ServerIP).
	RouterConf []string
	// ServeArgs are added to pixie's serve flags.
	ServeArgs []string
	// Firmware maps file names in the data dir's firmware/ override to
	// the files copied there before pixie starts.
	Firmware map[string]string
	// FollowInterface starts pixie with --interface only, no --address,
	// so it serves whatever address the interface has (and gets).
	FollowInterface bool
	// FirmwareBytes is written into the data dir's firmware/ override
	// before pixie starts (name -> contents): it wins over the OS's iPXE
	// files.
	FirmwareBytes map[string][]byte
	// NoRouterDHCP leaves the router without a DHCPv4 server (it still
	// sends IPv6 router advertisements): a LAN where only pixie can hand
	// out addresses.
	NoRouterDHCP bool
}

// startPixieLAN builds the LAN, starts the router's DHCP server and pixie
// in the server namespace, and waits until pixie serves HTTP. When the test
// fails it logs pixie's log, the router's log and the last VM's console.
func startPixieLAN(t *testing.T, opts pixieOptions) *pixieLAN {
	t.Helper()
	bin := pixieBinary(t)
	busybox, err := testnet.Busybox()
	if err != nil {
		t.Fatal(err)
	}
	lan := testnet.NewLAN(t, testnet.Options{})
	p := &pixieLAN{LAN: lan, Bin: bin, Busybox: busybox, DataDir: filepath.Join(lan.Dir, "data")}
	for name, src := range opts.Firmware {
		if err := os.MkdirAll(filepath.Join(p.DataDir, "firmware"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := testnet.CopyFile(filepath.Join(p.DataDir, "firmware", name), src); err != nil {
			t.Fatal(err)
		}
	}
	if opts.NoRouterDHCP {
		p.Router, err = lan.StartDnsmasq(lan.RouterNS, "router-ra", append([]string{"enable-ra",
			fmt.Sprintf("dhcp-range=%s,ra-only,%d", testnet.IPv6Prefix, testnet.IPv6PrefixLen)}, opts.RouterConf...)...)
	} else {
		p.Router, err = lan.StartRouterDHCP(opts.RouterConf...)
	}
	if err != nil {
		t.Fatal(err)
	}
	if opts.WithOS {
		dir := filepath.Join(p.DataDir, "assets", filepath.Dir(firstTimeKernel))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		findKernel := testnet.FindKernel
		if opts.ARM64 {
			findKernel = testnet.FindKernelARM64
		}
		k, err := findKernel()
		if err != nil {
			t.Fatal(err)
		}
		if err := testnet.CopyFile(filepath.Join(p.DataDir, "assets", firstTimeKernel), k.Path); err != nil {
			t.Fatal(err)
		}
		if err := testnet.WriteInitrd(filepath.Join(p.DataDir, "assets", firstTimeInitrd), k); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range opts.FirmwareBytes {
		dir := filepath.Join(p.DataDir, "firmware")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sockDir := opts.SocketDir
	if sockDir == "" {
		// Not t.TempDir(): its path, long test name included, can pass
		// the 108 bytes a unix socket path may have.
		if sockDir, err = os.MkdirTemp("", "pixie-e2e-"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(sockDir) })
	}
	p.Socket = filepath.Join(sockDir, "pixie.sock")

	// Cleanups run last registered first: pixie stops (its last log lines
	// written) before the dump, and both before the LAN's own cleanup.
	t.Cleanup(func() {
		if t.Failed() {
			p.dump(t)
		}
	})
	args := p.serveArgs()
	if opts.FollowInterface {
		args = slices.Delete(args, 3, 5)
	}
	args = append(args, opts.ServeArgs...)
	if p.Daemon, err = lan.Start(lan.ServerNS, bin, args...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Daemon.Stop)
	if err := p.Daemon.WaitLog("pixie serving", 60*time.Second); err != nil {
		t.Fatal(err)
	}
	waitHTTP(t, lan, busybox, p.URL()+"/healthz")
	return p
}

// URL is pixie's HTTP base URL as machines on the LAN reach it.
func (p *pixieLAN) URL() string { return "http://" + testnet.ServerIP + ":" + httpPort }

// dump logs what explains a failure: pixie's log, the router's DHCP log
// and the end of the last VM's serial console.
func (p *pixieLAN) dump(t testing.TB) {
	if p.Daemon == nil {
		return
	}
	t.Logf("pixie log (%s), last 250 lines:\n%s", p.Daemon.LogPath, tail(p.Daemon.Log(), 250))
	t.Logf("router dnsmasq log (%s), last 80 lines:\n%s", p.Router.LogPath, tail(p.Router.Log(), 80))
	p.mu.Lock()
	vm := p.lastVM
	p.mu.Unlock()
	if vm != nil {
		t.Logf("last VM (%s) serial console (%s), last 80 lines:\n%s\nQEMU stderr:\n%s",
			vm, vm.LogPath, tail(cleanConsole(vm.Log), 80), vm.Stderr)
	}
}

// CLI runs `pixie --socket S args...` in the default namespace (the
// control socket is a file: it works across namespaces) and returns its
// standard output.
func (p *pixieLAN) CLI(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.Bin, append([]string{"--socket", p.Socket}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("pixie %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out), nil
}

// MustCLI is CLI that ends the test on failure.
func (p *pixieLAN) MustCLI(t testing.TB, args ...string) string {
	t.Helper()
	out, err := p.CLI(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// CLIJSON runs a CLI command with --json and decodes its output into v.
func (p *pixieLAN) CLIJSON(t testing.TB, v any, args ...string) {
	t.Helper()
	out := p.MustCLI(t, append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("pixie %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// Status is `pixie status --json`.
func (p *pixieLAN) Status(t testing.TB) api.Status {
	t.Helper()
	var st api.Status
	p.CLIJSON(t, &st, "status")
	return st
}

// Boots is `pixie boots --json`.
func (p *pixieLAN) Boots(t testing.TB) []api.BootSummary {
	t.Helper()
	var bs []api.BootSummary
	p.CLIJSON(t, &bs, "boots", "--limit", "100")
	return bs
}

// BootOf returns the `pixie boots` row of mac.
func (p *pixieLAN) BootOf(t testing.TB, mac string) (api.BootSummary, bool) {
	t.Helper()
	for _, b := range p.Boots(t) {
		if strings.EqualFold(b.MAC, mac) {
			return b, true
		}
	}
	return api.BootSummary{}, false
}

// Timeline is `pixie timeline MAC --json`, oldest event first.
func (p *pixieLAN) Timeline(t testing.TB, mac string) []api.Event {
	t.Helper()
	var es []api.Event
	p.CLIJSON(t, &es, "timeline", mac, "--limit", "1000")
	return es
}

// LastEventID is the ID of mac's newest event, 0 if it has none: events
// after it belong to whatever happens next.
func (p *pixieLAN) LastEventID(t testing.TB, mac string) int64 {
	t.Helper()
	var last int64
	for _, e := range p.Timeline(t, mac) {
		last = max(last, e.ID)
	}
	return last
}

// Fetch GETs url with busybox wget from inside namespace ns and returns
// the body.
func (p *pixieLAN) Fetch(ns, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// busybox-static's wget -T crashes; the context bounds it instead.
	cmd := p.LAN.CommandContext(ctx, ns, p.Busybox, "wget", "-q", "-O", "-", url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("wget %s in %s: %v: %s", url, ns, err, stderr.String())
	}
	return out, nil
}

// Ignition fetches again, from the server namespace, the Ignition config
// a booted VM fetched: the same URL (pixie's boot script puts a per-boot
// token into it), so pixie serves the same config if it is consistent.
// pixie records the fetch as an ignition event of the MAC: look at a
// timeline before calling it.
func (p *pixieLAN) Ignition(t testing.TB, res *testnet.VMResult) []byte {
	t.Helper()
	url, ok := res.IgnitionURL()
	if !ok {
		t.Fatalf("the VM printed no %s: cannot fetch its config again", testnet.MarkerIgnitionURL)
	}
	if !strings.HasPrefix(url, p.URL()+"/ignition?") {
		t.Errorf("the kernel command line points at %s, not at pixie's /ignition", url)
	}
	body, err := p.Fetch(p.LAN.ServerNS, url)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// Boot boots a VM with firmware fw and MAC mac on a new tap and returns
// how it went and the wall time RunVM took. console, if not nil, receives
// the serial console live.
func (p *pixieLAN) Boot(ctx context.Context, t testing.TB, fw testnet.Firmware, mac string, console io.Writer) (*testnet.VMResult, time.Duration) {
	t.Helper()
	p.mu.Lock()
	p.taps++
	name := fmt.Sprintf("tap%d", p.taps)
	p.mu.Unlock()
	tap, err := p.LAN.AddTap(name)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := p.LAN.RunVM(ctx, testnet.VMOptions{Firmware: fw, MAC: mac, Tap: tap, Console: console})
	wall := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.lastVM = res
	p.mu.Unlock()
	return res, wall
}

// stagesSince returns the stages of the events after ID since, in order.
func stagesSince(es []api.Event, since int64) []string {
	var stages []string
	for _, e := range es {
		if e.ID > since {
			stages = append(stages, e.Stage)
		}
	}
	return stages
}

// inOrder reports whether want is a subsequence of got: each stage seen,
// in this order, with anything else allowed in between (a second dhcp
// from iPXE, a pxe from iPXE's ProxyDHCP request...).
func inOrder(got, want []string) bool {
	i := 0
	for _, s := range got {
		if i < len(want) && s == want[i] {
			i++
		}
	}
	return i == len(want)
}

// errorEvents returns the error events after ID since.
func errorEvents(es []api.Event, since int64) []api.Event {
	var errs []api.Event
	for _, e := range es {
		if e.ID > since && e.Stage == "error" {
			errs = append(errs, e)
		}
	}
	return errs
}

func formatEvents(es []api.Event) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "  #%d %s %-9s %-8s %-15s %s\n", e.ID, e.Time.Format("15:04:05.000"), e.Stage, e.Arch, e.IP, e.Detail)
	}
	return b.String()
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// cleanConsole makes a serial console log readable in a test log or a
// terminal: see consoleFilter.
func cleanConsole(s string) string {
	var b strings.Builder
	f := &consoleFilter{w: &b}
	f.Write([]byte(s))
	return b.String()
}

// consoleFilter passes a VM's serial console through to w without the
// terminal control sequences the firmware sends (OVMF clears the screen
// and positions the cursor), which would garble the terminal or the log:
// escape sequences are dropped, and a cursor move or a carriage return
// that starts overwriting a line becomes a line break. It keeps its state
// across writes.
type consoleFilter struct {
	w     io.Writer
	state int  // 0 text, 1 after ESC, 2 in a CSI sequence, 3 charset designation
	cr    bool // a carriage return not yet followed by anything
	mid   bool // inside a line: the last byte written was not a line break
	buf   []byte
}

func (f *consoleFilter) Write(b []byte) (int, error) {
	f.buf = f.buf[:0]
	for _, c := range b {
		if f.cr && c != '\r' && f.state == 0 {
			f.cr = false
			if c != '\n' && f.mid {
				f.put('\n')
			}
		}
		switch f.state {
		case 1:
			switch c {
			case '[':
				f.state = 2
			case '(', ')':
				f.state = 3
			default:
				f.state = 0
			}
			continue
		case 2:
			if c >= 0x40 && c <= 0x7e {
				f.state = 0
				if (c == 'H' || c == 'f') && f.mid {
					f.put('\n')
				}
			}
			continue
		case 3:
			f.state = 0
			continue
		}
		switch {
		case c == 0x1b:
			f.state = 1
		case c == '\r':
			f.cr = true
		case c == '\n' || c == '\t' || c >= 0x20 && c != 0x7f:
			f.put(c)
		}
	}
	if _, err := f.w.Write(f.buf); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (f *consoleFilter) put(c byte) {
	f.buf = append(f.buf, c)
	f.mid = c != '\n'
}

// prefixWriter starts every line written through it with prefix.
type prefixWriter struct {
	w      io.Writer
	prefix string
	mid    bool // inside a line
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	var out []byte
	for _, c := range b {
		if !p.mid {
			out = append(out, p.prefix...)
			p.mid = true
		}
		out = append(out, c)
		if c == '\n' {
			p.mid = false
		}
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

// firmwareArches returns the architectures `pixie status` says it has
// first-stage firmware for.
func firmwareArches(st api.Status) []string {
	var arches []string
	for _, fw := range st.Firmware {
		if len(fw.Files) > 0 {
			arches = append(arches, fw.Arch)
		}
	}
	slices.Sort(arches)
	return arches
}

// appendArgs adds kernel arguments to a profile with `pixie profiles edit`
// and returns the new argument line.
func (p *pixieLAN) appendArgs(t testing.TB, profile, extra string) string {
	t.Helper()
	var prof api.Profile
	p.CLIJSON(t, &prof, "profiles", "show", profile)
	args := strings.TrimSpace(prof.Args + " " + extra)
	p.MustCLI(t, "profiles", "edit", profile, "--args", args)
	return args
}
