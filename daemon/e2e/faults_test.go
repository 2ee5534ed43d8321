package e2e

// Fault tests: the daemon killed in the middle of database writes and in the
// middle of a real VM's boot, a profile's kernel vanishing from the asset
// store, and the data directory's disk filling up. Real processes, the real
// SQLite database on disk, real outcomes.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	_ "github.com/mattn/go-sqlite3" // read the daemon's database after it stopped

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/internal/testnet"
)

// requireFaultLAN skips (or, with testnet.RequireEnv=1, fails) unless a
// pixie LAN without VMs can be built: root, ip, dnsmasq and busybox-static.
func requireFaultLAN(t *testing.T) {
	t.Helper()
	testnet.RequireRoot(t)
	testnet.RequireTools(t, "dnsmasq")
	if _, err := testnet.Busybox(); err != nil {
		if os.Getenv(testnet.RequireEnv) == "1" {
			t.Fatalf("%v (%s=1, so this is a failure, not a skip)", err, testnet.RequireEnv)
		}
		t.Skip(err)
	}
}

// serveArgs is the command line startPixieLAN starts the daemon with: a
// restart uses the same data directory, socket and ports.
func (p *pixieLAN) serveArgs() []string {
	return []string{"serve",
		"--interface", testnet.Iface,
		"--address", testnet.ServerIP,
		"--data-dir", p.DataDir,
		"--http-port", httpPort,
		"--socket", p.Socket,
		"--log-level", "debug",
	}
}

// daemons keeps every daemon process a fault test started, so a failure
// shows the logs of the instances that were killed too (p.dump shows only
// the last one).
type daemons struct {
	mu   sync.Mutex
	past []*testnet.Process
}

func (d *daemons) add(p *testnet.Process) {
	d.mu.Lock()
	d.past = append(d.past, p)
	d.mu.Unlock()
}

func (d *daemons) dump(t *testing.T) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, p := range d.past {
		t.Logf("earlier pixie daemon #%d (%s, %v), last 60 lines:\n%s", i+1, p.LogPath, p.Err(), tail(p.Log(), 60))
	}
}

// trackDaemons remembers p's current daemon as the first instance and logs
// all earlier instances' logs when the test fails.
func trackDaemons(t *testing.T, p *pixieLAN) *daemons {
	d := &daemons{}
	t.Cleanup(func() {
		if t.Failed() {
			d.dump(t)
		}
	})
	return d
}

// killDaemon ends the running daemon: SIGKILL to the pixie process itself
// (no deferred close, no checkpoint: a crash), or, with kill false, the
// clean SIGTERM stop. It returns once the process is gone.
func (p *pixieLAN) killDaemon(kill bool, past *daemons) error {
	d := p.Daemon
	past.add(d)
	if !kill {
		d.Stop()
		return nil
	}
	if err := syscall.Kill(d.Pid(), syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill -9 pixie (pid %d): %w", d.Pid(), err)
	}
	select {
	case <-d.Done():
		return nil
	case <-time.After(15 * time.Second):
		return fmt.Errorf("pixie (pid %d) still runs 15 s after SIGKILL", d.Pid())
	}
}

// startDaemon starts `pixie serve` again with the same data directory,
// socket and ports, and waits until it serves HTTP. It does not touch t, so
// a goroutine may call it.
func (p *pixieLAN) startDaemon() error {
	d, err := p.LAN.Start(p.LAN.ServerNS, p.Bin, p.serveArgs()...)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.Daemon = d
	p.mu.Unlock()
	if err := d.WaitLog("pixie serving", 60*time.Second); err != nil {
		return err
	}
	var ferr error
	for range 100 {
		if _, ferr = p.Fetch(p.LAN.ServerNS, p.URL()+"/healthz"); ferr == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("restarted pixie does not serve HTTP: %v", ferr)
}

// openDB opens the daemon's database read-only, as a second process would.
// Call it while the daemon is stopped: a killed daemon's WAL is still there
// and holds the committed writes not yet checkpointed.
func openDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		t.Fatalf("open %s read-only: %v", path, err)
	}
	return db
}

// integrityCheck runs PRAGMA integrity_check and fails the test unless
// SQLite says "ok".
func integrityCheck(t *testing.T, db *sql.DB) {
	t.Helper()
	rows, err := db.Query("PRAGMA integrity_check")
	if err != nil {
		t.Fatalf("PRAGMA integrity_check: %v", err)
	}
	defer rows.Close()
	var res []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		res = append(res, s)
	}
	if len(res) != 1 || res[0] != "ok" {
		t.Errorf("PRAGMA integrity_check = %q, want ok", res)
	}
}

// machineState is what a fault test expects of one machine record.
type machineState struct {
	Present  bool
	Hostname string
	Seq      string // the "seq" variable
	Profile  string
}

func (m machineState) String() string {
	if !m.Present {
		return "absent"
	}
	return fmt.Sprintf("hostname=%s seq=%s profile=%q", m.Hostname, m.Seq, m.Profile)
}

// dbMachines reads the machines table directly.
func dbMachines(t *testing.T, db *sql.DB) map[string]machineState {
	t.Helper()
	rows, err := db.Query(`SELECT mac, coalesce(profile, ''), hostname, vars FROM machines`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]machineState{}
	for rows.Next() {
		var mac, profile, hostname, vars string
		if err := rows.Scan(&mac, &profile, &hostname, &vars); err != nil {
			t.Fatal(err)
		}
		var v map[string]string
		if err := json.Unmarshal([]byte(vars), &v); err != nil {
			t.Errorf("machine %s: vars %q are not JSON: %v", mac, vars, err)
		}
		out[mac] = machineState{Present: true, Hostname: hostname, Seq: v["seq"], Profile: profile}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// cliMachines is `pixie machines list --json` as machineStates.
func cliMachines(t *testing.T, p *pixieLAN) map[string]machineState {
	t.Helper()
	var ms []api.Machine
	p.CLIJSON(t, &ms, "machines", "list")
	out := map[string]machineState{}
	for _, m := range ms {
		out[m.MAC] = machineState{Present: true, Hostname: m.Hostname, Seq: m.Vars["seq"], Profile: m.Profile}
	}
	return out
}

// writeLedger records the CLI writes of one writer: the state of each MAC as
// of its last acknowledged write, and the write in flight when the daemon
// died (whose outcome is unknown: the daemon may have committed it without
// answering).
type writeLedger struct {
	acked   map[string]machineState
	pending map[string]machineState
	nAcked  int
	nFailed int
}

// TestFaultKillDuringWrites kills the daemon with SIGKILL while CLI writers
// create, change and remove machines, restarts it on the same data
// directory, and checks, a few times over: SQLite's integrity_check is ok,
// and every write the CLI acknowledged (exit 0) is in the database with its
// values, read both straight from the file and through the restarted
// daemon. A write in flight at the kill may or may not have landed, but
// nothing else may differ.
func TestFaultKillDuringWrites(t *testing.T) {
	requireFaultLAN(t)
	testStart := time.Now()
	p := startPixieLAN(t, pixieOptions{})
	past := trackDaemons(t, p)
	dbPath := filepath.Join(p.DataDir, "pixie.db")
	p.MustCLI(t, "profiles", "add", "fault-a", "--kernel", "fault/vmlinuz", "--initrd", "fault/initrd.img", "--args", "console=ttyS0")

	const writers, macsPerWriter, cycles = 3, 4, 3
	macOf := func(w, i int) string { return fmt.Sprintf("52:54:00:fa:%02x:%02x", w, i) }
	ledgers := make([]*writeLedger, writers)
	for w := range ledgers {
		ledgers[w] = &writeLedger{acked: map[string]machineState{}}
		for i := range macsPerWriter {
			ledgers[w].acked[macOf(w, i)] = machineState{}
		}
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 6))
	seq := 0
	var summary []string

	// Boot events are written too: a machine fetching its script (an
	// error script here, the default profile's files are absent) has its
	// event committed before the answer is sent, so every answered fetch
	// must have left an event.
	const fetchMAC = "52:54:00:fa:ee:01"
	fetched := 0
	// A failure before the kill is a bug, not the fault under test.
	var killed atomic.Bool
	early := make(chan error, writers+1)

	for cycle := 1; cycle <= cycles; cycle++ {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				body, err := p.Fetch(p.LAN.ServerNS, p.scriptURL(fetchMAC))
				if err == nil && !strings.HasPrefix(string(body), "#!ipxe") {
					err = fmt.Errorf("not an iPXE script:\n%s", body)
				}
				if err != nil {
					if !killed.Load() {
						early <- err
					}
					return
				}
				fetched++
			}
		}()
		for w := range writers {
			l := ledgers[w]
			l.pending = map[string]machineState{}
			start := seq + w*100000
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					mac := macOf(w, n%macsPerWriter)
					s := fmt.Sprint(start + n)
					var want machineState
					var args []string
					switch {
					case n%7 == 6 && l.acked[mac].Present:
						args = []string{"machines", "rm", mac}
					case n%3 == 2:
						want = machineState{Present: true, Hostname: "node-" + s, Seq: s, Profile: "fault-a"}
						args = []string{"machines", "set", mac, "--hostname", want.Hostname, "--var", "seq=" + s, "--profile", "fault-a"}
					default:
						want = machineState{Present: true, Hostname: "node-" + s, Seq: s}
						args = []string{"machines", "set", mac, "--hostname", want.Hostname, "--var", "seq=" + s, "--clear-profile"}
					}
					if _, err := p.CLI(args...); err != nil {
						// The daemon died under this write (or before
						// it): it may or may not have committed it.
						if !killed.Load() {
							early <- err
						}
						l.pending[mac] = want
						l.nFailed++
						return
					}
					l.acked[mac] = want
					l.nAcked++
				}
			}()
		}
		delay := 500*time.Millisecond + time.Duration(rng.Int64N(int64(500*time.Millisecond)))
		time.Sleep(delay)
		killed.Store(true)
		if err := p.killDaemon(true, past); err != nil {
			t.Fatal(err)
		}
		close(stop)
		wg.Wait()
		killed.Store(false)
		for len(early) > 0 {
			t.Errorf("cycle %d: failed before the daemon was killed: %v", cycle, <-early)
		}
		seq += 1000

		acked := 0
		for _, l := range ledgers {
			acked += l.nAcked
		}
		// The database as the killed daemon left it, read from the file
		// (the committed writes not yet checkpointed are in its WAL).
		var walSize int64
		if fi, err := os.Stat(dbPath + "-wal"); err == nil {
			walSize = fi.Size()
		}
		inFlight := 0
		for _, l := range ledgers {
			inFlight += len(l.pending)
		}
		db := openDB(t, dbPath)
		integrityCheck(t, db)
		checkLedgers(t, fmt.Sprintf("cycle %d, database file after kill -9", cycle), dbMachines(t, db), ledgers)
		var events int
		if err := db.QueryRow(`SELECT count(*) FROM events WHERE mac = ?`, fetchMAC).Scan(&events); err != nil {
			t.Fatal(err)
		}
		if events < fetched {
			t.Errorf("cycle %d: %d boot scripts were served to %s but only %d of their events are in the database", cycle, fetched, fetchMAC, events)
		}
		db.Close()

		restartStart := time.Now()
		if err := p.startDaemon(); err != nil {
			t.Fatal(err)
		}
		took := time.Since(restartStart)
		// Info lines reach the log file within pixie's 50 ms log batching.
		if err := p.Daemon.WaitLog("removed a stale control socket", 2*time.Second); err != nil {
			t.Errorf("cycle %d: the restarted daemon did not say it removed the killed one's control socket", cycle)
		}
		checkLedgers(t, fmt.Sprintf("cycle %d, restarted daemon", cycle), cliMachines(t, p), ledgers)
		summary = append(summary, fmt.Sprintf("cycle %d: killed after %s, %d writes acknowledged and %d scripts served so far, %d writes in flight, WAL %d KiB, restart %s",
			cycle, delay.Round(time.Millisecond), acked, fetched, inFlight, walSize>>10, took.Round(100*time.Millisecond)))
		if t.Failed() {
			break
		}
		// What was uncertain is settled now: take the database's word.
		got := cliMachines(t, p)
		for _, l := range ledgers {
			for mac := range l.pending {
				l.acked[mac] = got[mac]
			}
		}
	}
	total := 0
	for _, l := range ledgers {
		total += l.nAcked
	}
	if total < 3*cycles {
		t.Errorf("only %d writes were acknowledged in %d cycles: the test did not exercise writes", total, cycles)
	}

	// After all that, the daemon still works: a write, a read, and a clean
	// stop leaves a healthy file.
	p.MustCLI(t, "machines", "set", macOf(0, 0), "--hostname", "after-crashes")
	if m := cliMachines(t, p)[macOf(0, 0)]; m.Hostname != "after-crashes" {
		t.Errorf("write after the crashes: %s", m)
	}
	if err := p.killDaemon(false, past); err != nil {
		t.Fatal(err)
	}
	integrityCheck(t, openDB(t, dbPath))
	t.Logf("kill -9 during writes: %s; %d writes acknowledged; whole test %.1fs",
		strings.Join(summary, "; "), total, time.Since(testStart).Seconds())
}

// checkLedgers compares the machines got with what the writers were told.
func checkLedgers(t *testing.T, where string, got map[string]machineState, ledgers []*writeLedger) {
	t.Helper()
	for _, l := range ledgers {
		for mac, want := range l.acked {
			g := got[mac]
			if g == want {
				continue
			}
			if p, ok := l.pending[mac]; ok && g == p {
				continue // the write in flight at the kill landed
			}
			if p, ok := l.pending[mac]; ok {
				t.Errorf("%s: machine %s is %s; want %s (acknowledged) or %s (in flight at the kill)", where, mac, g, want, p)
			} else {
				t.Errorf("%s: machine %s is %s; want %s (acknowledged)", where, mac, g, want)
			}
		}
	}
}

// waitLogMatch waits until the daemon's log has a line matching re, or
// ctx ends. It polls the log file often: a boot moves on in milliseconds.
func waitLogMatch(ctx context.Context, d *testnet.Process, re *regexp.Regexp) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if re.MatchString(d.Log()) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: no log line matching %q: %w", d.Name, re, ctx.Err())
		case <-d.Done():
			if re.MatchString(d.Log()) {
				return nil
			}
			return fmt.Errorf("%s exited (%v) before logging a line matching %q", d.Name, d.Err(), re)
		case <-tick.C:
		}
	}
}

// TestFaultRestartMidBoot boots a real BIOS VM (SeaBIOS with the iPXE ROM)
// and takes the daemon away three times while it boots:
//
//  1. kill -9 the moment the VM fetched /boot.ipxe, and keep pixie down for
//     12 s: the VM's chain to its per-MAC script fails, the chain script's
//     retry (10 s) fails again, and only a retry loop brings it back;
//  2. kill -9 the moment the VM got its boot script: its kernel download
//     fails, the boot script's error path retries after 30 s;
//  3. a clean restart right after the VM downloaded its initrd: the booted
//     kernel fetches its Ignition config, with the per-boot token issued by
//     the previous daemon, from the new one.
//
// The VM must still reach its Ignition fetch with the right config, and the
// timeline (which survives the restarts) must show the boot's stages.
func TestFaultRestartMidBoot(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM with two 10-30 s retries (about a minute): not with -short")
	}
	testnet.RequireVM(t)
	testStart := time.Now()
	p := startPixieLAN(t, pixieOptions{WithOS: true})
	past := trackDaemons(t, p)
	p.appendArgs(t, defaultProfile, "panic=5")
	const mac = "52:54:00:fa:b0:01"

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var vmStart time.Time
	var stepsMu sync.Mutex
	var steps []string
	step := func(format string, args ...any) {
		stepsMu.Lock()
		defer stepsMu.Unlock()
		steps = append(steps, fmt.Sprintf("%5.1fs ", time.Since(vmStart).Seconds())+fmt.Sprintf(format, args...))
	}
	chainServed := regexp.MustCompile(`msg="chain script requested"`)
	scriptServed := regexp.MustCompile(`msg="boot script served"[^\n]* mac=` + regexp.QuoteMeta(mac))
	initrdServed := regexp.MustCompile(`msg="asset served"[^\n]* mac=` + regexp.QuoteMeta(mac) + `[^\n]* path=first-time/initrd.img`)
	injected := make(chan error, 1)
	vmStart = time.Now()
	go func() {
		injected <- func() error {
			// 1. After /boot.ipxe: down for 12 s.
			if err := waitLogMatch(ctx, p.Daemon, chainServed); err != nil {
				return err
			}
			if err := p.killDaemon(true, past); err != nil {
				return err
			}
			step("kill -9 after /boot.ipxe was served")
			select {
			case <-time.After(12 * time.Second):
			case <-ctx.Done():
				return ctx.Err()
			}
			if err := p.startDaemon(); err != nil {
				return err
			}
			step("pixie serving again")
			// 2. After the boot script: the kernel download fails.
			if err := waitLogMatch(ctx, p.Daemon, scriptServed); err != nil {
				return err
			}
			if err := p.killDaemon(true, past); err != nil {
				return err
			}
			step("kill -9 after the boot script was served")
			if err := p.startDaemon(); err != nil {
				return err
			}
			step("pixie serving again")
			// 3. After the initrd: a clean restart while the kernel boots.
			if err := waitLogMatch(ctx, p.Daemon, initrdServed); err != nil {
				return err
			}
			if err := p.killDaemon(false, past); err != nil {
				return err
			}
			step("clean stop after the initrd was served")
			if err := p.startDaemon(); err != nil {
				return err
			}
			step("pixie serving again")
			return nil
		}()
	}()

	res, wall := p.Boot(ctx, t, testnet.BIOS, mac, nil)
	step("VM done: %s", res.Matched)
	cancel()
	injErr := <-injected
	stepsMu.Lock()
	defer stepsMu.Unlock()
	t.Logf("restarts during the boot:\n  %s", strings.Join(steps, "\n  "))
	t.Logf("BIOS boot through three daemon restarts: %s (wall %s)", res, wall.Round(100*time.Millisecond))
	if injErr != nil {
		t.Errorf("fault injection did not complete: %v", injErr)
	}
	got := bootedSHA(t, res)
	if got == "" {
		t.FailNow()
	}
	// iPXE's own account, on the serial console: which retries ran.
	var said []string
	for _, line := range strings.Split(cleanConsole(res.Log), "\n") {
		if strings.Contains(line, "pixie:") {
			said = append(said, strings.TrimSpace(line))
		}
	}
	t.Logf("iPXE on the VM's console:\n  %s", strings.Join(said, "\n  "))
	chainRetries := strings.Count(res.Log, "could not fetch the boot script")
	bootRetries := strings.Count(res.Log, "loading or starting profile")
	if chainRetries+bootRetries == 0 {
		t.Errorf("the VM's console shows no retry by pixie's scripts: the restarts did not hit the boot")
	}
	// Kill 1 normally lands between /boot.ipxe and the per-MAC script,
	// and pixie stays down past the first 10 s retry: the second attempt
	// is what brought the machine back.
	if chainRetries == 1 {
		t.Errorf("the chain script retried once and the boot went on: pixie was down for 12 s, so a single 10 s retry cannot have reached it")
	}
	t.Logf("retries: %d of the chain script (10 s), %d of the boot script (30 s)", chainRetries, bootRetries)

	es := p.Timeline(t, mac)
	t.Logf("pixie timeline %s:\n%s", mac, formatEvents(es))
	stages := stagesSince(es, 0)
	if !inOrder(stages, []string{"dhcp", "script", "kernel", "initrd", "ignition"}) {
		t.Errorf("timeline of %s has stages %v; want dhcp, script, kernel, initrd, ignition in this order", mac, stages)
	}
	// The config was served by the daemon started last, on the token the
	// one before it issued (tokens live in the database).
	logCtx, logCancel := context.WithTimeout(context.Background(), 2*time.Second) // pixie batches Info lines for 50 ms
	defer logCancel()
	if waitLogMatch(logCtx, p.Daemon, regexp.MustCompile(`msg="Ignition config served"[^\n]* mac=`+regexp.QuoteMeta(mac))) != nil {
		t.Errorf("the daemon started after the initrd download did not serve %s's Ignition config", mac)
	}
	// The config fetched again with the VM's URL is the one the VM got.
	want := p.Ignition(t, res)
	if got != sha256Hex(want) {
		t.Errorf("the VM fetched a config with sha256 %s; pixie serves %s for %s:\n%s", got, sha256Hex(want), mac, want)
	}
	t.Logf("restart mid-boot: VM %.1fs, whole test %.1fs", res.Elapsed.Seconds(), time.Since(testStart).Seconds())
}

// kernelURL returns the URL of the kernel line of an iPXE boot script.
func kernelURL(script string) (string, bool) {
	for _, line := range strings.Split(script, "\n") {
		if rest, ok := strings.CutPrefix(line, "kernel --name kernel "); ok {
			url, _, _ := strings.Cut(rest, " ")
			return url, true
		}
	}
	return "", false
}

// checkErrorScript checks that an answer to a booting machine is an iPXE
// error script that tells why (each of why) and tries again: a 200 with
// a script, never a bare HTTP error that ends iPXE's boot.
func checkErrorScript(t *testing.T, p *pixieLAN, script string, why ...string) {
	t.Helper()
	var problems []string
	if !strings.HasPrefix(script, "#!ipxe\n") {
		problems = append(problems, "not an iPXE script")
	}
	for _, w := range why {
		if !strings.Contains(script, w) {
			problems = append(problems, fmt.Sprintf("does not say %q", w))
		}
	}
	if !regexp.MustCompile(`(?m)^sleep [1-9][0-9]*$`).MatchString(script) {
		problems = append(problems, "does not wait before retrying")
	}
	if !strings.Contains(script, "chain --replace --autofree "+p.URL()+"/boot.ipxe") {
		problems = append(problems, "does not chain "+p.URL()+"/boot.ipxe again")
	}
	if strings.Contains(script, "\nkernel ") || strings.Contains(script, "\nboot") {
		problems = append(problems, "still tries to boot")
	}
	if len(problems) > 0 {
		t.Errorf("error script: %s:\n%s", strings.Join(problems, "; "), script)
	}
}

// scriptURL is the per-MAC script URL iPXE asks for once /boot.ipxe's
// variables are filled in, for a BIOS machine.
func (p *pixieLAN) scriptURL(mac string) string {
	return p.URL() + "/ipxe?mac=" + strings.ReplaceAll(mac, ":", "-") + "&uuid=&arch=i386&platform=pcbios&hostname="
}

// TestFaultImageMissing removes the default profile's kernel from the
// asset store while pixie runs. A machine booting that profile gets an
// iPXE error script that says what is missing and retries (not an HTTP
// error that would end its boot), its kernel URL (from a script served
// before the file went) is refused with an error event, and the daemon
// keeps serving another machine whose profile's files are there. Putting
// the file back makes the retry succeed.
func TestFaultImageMissing(t *testing.T) {
	requireFaultLAN(t)
	testStart := time.Now()
	if _, err := testnet.FindKernel(); err != nil {
		if os.Getenv(testnet.RequireEnv) == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	p := startPixieLAN(t, pixieOptions{WithOS: true})
	assets := filepath.Join(p.DataDir, "assets")
	kernel := filepath.Join(assets, firstTimeKernel)
	kernelBytes, err := os.ReadFile(kernel)
	if err != nil {
		t.Fatal(err)
	}
	// Another profile with its own copy of the files, for machine B.
	if err := os.MkdirAll(filepath.Join(assets, "spare"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ dst, src string }{{"spare/vmlinuz", firstTimeKernel}, {"spare/initrd.img", firstTimeInitrd}} {
		if err := testnet.CopyFile(filepath.Join(assets, f.dst), filepath.Join(assets, f.src)); err != nil {
			t.Fatal(err)
		}
	}
	var first api.Profile
	p.CLIJSON(t, &first, "profiles", "show", defaultProfile)
	p.MustCLI(t, "profiles", "add", "spare", "--kernel", "spare/vmlinuz", "--initrd", "spare/initrd.img", "--args", first.Args)
	const macA, macB = "52:54:00:fa:1a:0a", "52:54:00:fa:1a:0b"
	p.MustCLI(t, "machines", "set", macB, "--profile", "spare")
	client, err := p.LAN.AddClient("fetch", "10.77.0.61/24")
	if err != nil {
		t.Fatal(err)
	}

	// Machine A's script while the kernel is there: the one a machine
	// holds when the file goes away under it.
	before, err := p.Fetch(client, p.scriptURL(macA))
	if err != nil {
		t.Fatal(err)
	}
	staleKernel, ok := kernelURL(string(before))
	if !ok {
		t.Fatalf("machine A's boot script has no kernel line:\n%s", before)
	}

	// The kernel goes away.
	if err := os.Rename(kernel, kernel+".away"); err != nil {
		t.Fatal(err)
	}
	sinceA := p.LastEventID(t, macA)

	script, err := p.Fetch(client, p.scriptURL(macA))
	if err != nil {
		t.Fatalf("the script fetch of a machine whose kernel is missing failed (an HTTP error ends iPXE's boot): %v", err)
	}
	checkErrorScript(t, p, string(script), firstTimeKernel, "not in pixie's asset store")

	// A machine that had the script already: its kernel download fails
	// (the script's `|| goto failed` retries), and the timeline says why.
	if body, err := p.Fetch(client, staleKernel); err == nil {
		t.Errorf("%s was served (%d bytes) with the file gone", staleKernel, len(body))
	}
	errs := errorEvents(p.Timeline(t, macA), sinceA)
	t.Logf("machine A's error events:\n%s", formatEvents(errs))
	if len(errs) == 0 {
		t.Errorf("no error event for machine A's boot with the kernel missing")
	}
	var scriptErr, assetErr bool
	for _, e := range errs {
		scriptErr = scriptErr || strings.Contains(e.Detail, firstTimeKernel) && strings.Contains(e.Detail, "not in pixie's asset store")
		assetErr = assetErr || strings.Contains(e.Detail, firstTimeKernel) && !strings.Contains(e.Detail, "profile")
	}
	if !scriptErr {
		t.Errorf("no error event says the profile's kernel %s is missing", firstTimeKernel)
	}
	if !assetErr {
		t.Errorf("the failed download of %s left no error event in machine A's timeline", staleKernel)
	}

	// Meanwhile machine B boots its own profile as usual.
	sinceB := p.LastEventID(t, macB)
	scriptB, err := p.Fetch(client, p.scriptURL(macB))
	if err != nil {
		t.Fatal(err)
	}
	urlB, ok := kernelURL(string(scriptB))
	if !ok || !strings.Contains(urlB, "/assets/spare/vmlinuz?") {
		t.Fatalf("machine B's boot script does not load spare/vmlinuz:\n%s", scriptB)
	}
	if body, err := p.Fetch(client, urlB); err != nil {
		t.Errorf("machine B's kernel: %v", err)
	} else if !bytes.Equal(body, kernelBytes) {
		t.Errorf("machine B's kernel: %d bytes, want %d", len(body), len(kernelBytes))
	}
	checkTimeline(t, p, macB, sinceB, []string{"script", "kernel"}, nil)

	// The file comes back: the retry (the error script chains /boot.ipxe,
	// which chains the machine's script) boots.
	if err := os.Rename(kernel+".away", kernel); err != nil {
		t.Fatal(err)
	}
	sinceA = p.LastEventID(t, macA)
	chain, err := p.Fetch(client, p.URL()+"/boot.ipxe")
	if err != nil || !strings.Contains(string(chain), p.URL()+"/ipxe?mac=${netX/mac:hexhyp}") {
		t.Fatalf("/boot.ipxe: %v\n%s", err, chain)
	}
	retry, err := p.Fetch(client, p.scriptURL(macA))
	if err != nil {
		t.Fatal(err)
	}
	urlA, ok := kernelURL(string(retry))
	if !ok {
		t.Fatalf("after the kernel came back, machine A still gets no boot script:\n%s", retry)
	}
	if body, err := p.Fetch(client, urlA); err != nil {
		t.Errorf("machine A's kernel after it came back: %v", err)
	} else if !bytes.Equal(body, kernelBytes) {
		t.Errorf("machine A's kernel: %d bytes, want %d", len(body), len(kernelBytes))
	}
	checkTimeline(t, p, macA, sinceA, []string{"script", "kernel"}, nil)
	select {
	case <-p.Daemon.Done():
		t.Errorf("pixie exited: %v", p.Daemon.Err())
	default:
	}
	t.Logf("missing image: whole test %.1fs", time.Since(testStart).Seconds())
}

// tmpfsOwner is the file in a test tmpfs that names the test process that
// mounted it, so a later run can unmount the tmpfs of a test binary that
// was killed before its cleanup ran.
const tmpfsOwner = ".pixie-fault-owner"

// cleanStaleTmpfs unmounts the test tmpfs mounts under the temporary
// directory whose owning test process is gone.
func cleanStaleTmpfs(t *testing.T) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		i := slices.Index(fields, "-")
		if len(fields) < 5 || i < 0 || i+1 >= len(fields) || fields[i+1] != "tmpfs" {
			continue
		}
		dir := fields[4]
		if !strings.HasPrefix(dir, os.TempDir()+"/") {
			continue
		}
		owner, err := os.ReadFile(filepath.Join(dir, tmpfsOwner))
		if err != nil {
			continue
		}
		var pid int
		if _, err := fmt.Sscan(string(owner), &pid); err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
			continue // its test still runs
		}
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err == nil {
			t.Logf("unmounted %s, left by test process %d", dir, pid)
		}
	}
}

// mountTmpfs mounts a tmpfs of size bytes on dir and unmounts it when the
// test ends (after stopping the daemon, which holds files in it).
func mountTmpfs(t *testing.T, p *pixieLAN, dir string, size int64) {
	t.Helper()
	cleanStaleTmpfs(t)
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, fmt.Sprintf("size=%d,mode=0755", size)); err != nil {
		if os.Getenv(testnet.RequireEnv) == "1" {
			t.Fatalf("mount a tmpfs on %s: %v", dir, err)
		}
		t.Skipf("cannot mount a tmpfs on %s: %v", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, tmpfsOwner), []byte(fmt.Sprintln(os.Getpid())), 0o644); err != nil {
		syscall.Unmount(dir, syscall.MNT_DETACH)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Daemon.Stop()
		if err := syscall.Unmount(dir, 0); err != nil {
			// Something still holds it: detach it, it goes when released.
			if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
				t.Errorf("unmount %s: %v", dir, err)
			}
		}
	})
}

// copyTree copies the regular files and directories under src to dst.
func copyTree(dst, src string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return testnet.CopyFile(target, path)
	})
}

// fill writes a file in dir until the file system is full, and returns its
// path and size.
func fill(dir string) (string, int64, error) {
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		return path, 0, err
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	var n int64
	for {
		k, err := f.Write(buf)
		n += int64(k)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			return path, n, err
		}
		if n > 1<<30 {
			return path, n, errors.New("wrote 1 GiB and the file system is not full")
		}
	}
	// Smaller writes fill the last partial block.
	for _, size := range []int{4096, 512, 1} {
		for {
			k, err := f.Write(buf[:size])
			n += int64(k)
			if err != nil {
				break
			}
		}
	}
	return path, n, nil
}

// TestFaultDiskFull puts pixie's data directory on a small tmpfs and fills
// it. Boot events can then not be written, but pixie keeps answering: a
// scripted PXE client gets its proxy offer, TFTP serves the firmware, HTTP
// serves /boot.ipxe and boot scripts (and an error script that retries
// when a per-boot token cannot be stored), and the log says why events are
// lost. A CLI write fails, says so, and leaves the database as it was.
// Once space is freed writes and events work again and the database passes
// integrity_check.
func TestFaultDiskFull(t *testing.T) {
	requireFaultLAN(t)
	testStart := time.Now()
	p := startPixieLAN(t, pixieOptions{})
	past := trackDaemons(t, p)
	const macKnown, macRemote, macDefault = "52:54:00:fa:d1:01", "52:54:00:fa:d1:02", "52:54:00:fa:d1:03"
	// A profile whose files live elsewhere and that needs no token: its
	// boot script needs no write at all.
	p.MustCLI(t, "profiles", "add", "remote", "--kernel", "http://10.77.0.9/vmlinuz", "--initrd", "http://10.77.0.9/initrd.img", "--args", "console=ttyS0")
	p.MustCLI(t, "machines", "set", macRemote, "--profile", "remote")
	p.MustCLI(t, "machines", "set", macKnown, "--hostname", "before-full", "--var", "seq=1")
	// Stand-ins for the default profile's files: the unknown machine's
	// script then needs just its per-boot token written.
	for _, f := range []string{firstTimeKernel, firstTimeInitrd} {
		path := filepath.Join(p.DataDir, "assets", f)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("stand-in for "+f+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Move the data directory onto a 16 MiB tmpfs, mounted where it was.
	if err := p.killDaemon(false, past); err != nil {
		t.Fatal(err)
	}
	disk := p.DataDir + ".disk"
	if err := os.Rename(p.DataDir, disk); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(p.DataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	mountTmpfs(t, p, p.DataDir, 16<<20)
	if err := copyTree(p.DataDir, disk); err != nil {
		t.Fatal(err)
	}
	if err := p.startDaemon(); err != nil {
		t.Fatal(err)
	}
	client, err := p.LAN.AddClient("full", "10.77.0.62/24")
	if err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(p.DataDir, "pixie.db")

	filler, n, err := fill(p.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	var sfs syscall.Statfs_t
	syscall.Statfs(p.DataDir, &sfs)
	t.Logf("filled %s with %d bytes: %d bytes free", p.DataDir, n, sfs.Bfree*uint64(sfs.Bsize))
	logBefore := len(p.Daemon.Log())
	newLog := func() string { return p.Daemon.Log()[logBefore:] }

	t.Run("full", func(t *testing.T) {
		// HTTP: the chain script, and the boot script of a machine whose
		// profile needs nothing written.
		if body, err := p.Fetch(client, p.URL()+"/boot.ipxe"); err != nil || !strings.HasPrefix(string(body), "#!ipxe") {
			t.Errorf("/boot.ipxe with the disk full: %v\n%s", err, body)
		}
		script, err := p.Fetch(client, p.scriptURL(macRemote))
		if err != nil {
			t.Errorf("boot script with the disk full: %v", err)
		} else if u, ok := kernelURL(string(script)); !ok || u != "http://10.77.0.9/vmlinuz" {
			t.Errorf("boot script of %s with the disk full:\n%s", macRemote, script)
		}
		// A machine whose config URL needs a per-boot token: the token
		// cannot be stored, so it is told why and retries.
		script, err = p.Fetch(client, p.scriptURL(macDefault))
		if err != nil {
			t.Errorf("boot script of %s with the disk full: %v (an HTTP error ends iPXE's boot)", macDefault, err)
		} else {
			checkErrorScript(t, p, string(script), "cannot issue an Ignition token")
		}

		// DHCP: a PXE client's DISCOVER gets pixie's proxy offer.
		dhcpNS, err := p.LAN.AddClient("fullpxe", "")
		if err != nil {
			t.Fatal(err)
		}
		c := newDHCPClient(t, p.LAN, dhcpNS)
		pixieID := net.ParseIP(testnet.ServerIP).To4()
		replies := c.exchange(t, dhcpv4.MessageTypeDiscover, nil, []dhcpv4.Modifier{
			dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00000:UNDI:002001")),
			dhcpv4.WithGeneric(dhcpv4.OptionClientSystemArchitectureType, []byte{0, 0}),
			dhcpv4.WithGeneric(dhcpv4.OptionClientNetworkInterfaceIdentifier, []byte{1, 2, 1}),
		}, 10*time.Second, pixieID)
		if offer := from(replies, pixieID); offer == nil {
			t.Errorf("no proxy offer from pixie with the disk full: %v", summarize(replies))
		} else {
			checkProxyReply(t, offer, dhcpv4.MessageTypeOffer, "undionly.kpxe")
		}

		// TFTP: the BIOS firmware.
		local := filepath.Join(p.LAN.Dir, "full-undionly.kpxe")
		if out, err := p.LAN.Exec(client, p.Busybox, "tftp", "-g", "-r", "undionly.kpxe", "-l", local, testnet.ServerIP); err != nil {
			t.Errorf("TFTP with the disk full: %v\n%s", err, out)
		} else if fi, err := os.Stat(local); err != nil || fi.Size() < 10000 {
			t.Errorf("TFTP with the disk full: %v, %v", fi, err)
		}

		// The lost events are logged, with the reason.
		if err := p.Daemon.WaitLog("could not store boot event", 5*time.Second); err != nil {
			t.Errorf("pixie does not log the events it could not store: %v", err)
		} else if !strings.Contains(newLog(), "full") {
			t.Errorf("pixie logs lost events without saying the disk is full:\n%s", tail(newLog(), 20))
		}

		// A CLI write fails and says so; the record is unchanged.
		out, err := p.CLI("machines", "set", macKnown, "--hostname", "during-full", "--var", "seq=2")
		if err == nil {
			t.Errorf("machines set succeeded with the disk full:\n%s", out)
		} else {
			t.Logf("CLI write with the disk full: %v", err)
			// The daemon answers 507 and the CLI prints its message.
			const want = "pixie could not save the change: the disk holding its data directory is full; free space and try again (nothing was changed)"
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the CLI's error does not say the disk is full and what to do (want %q): %v", want, err)
			}
		}
		var m api.Machine
		p.CLIJSON(t, &m, "machines", "show", macKnown)
		if m.Hostname != "before-full" || m.Vars["seq"] != "1" {
			t.Errorf("after a failed write, %s is %+v; want hostname before-full, seq 1", macKnown, m)
		}
		if !regexp.MustCompile(`(?i)disk is full|no space`).MatchString(newLog()) {
			t.Errorf("pixie's log does not say the disk is full:\n%s", tail(newLog(), 30))
		}
		select {
		case <-p.Daemon.Done():
			t.Fatalf("pixie exited with the disk full: %v", p.Daemon.Err())
		default:
		}

		// An operator restarts pixie, the disk still full: it must come
		// back and serve (its shutdown checkpoint cannot grow the file).
		if err := p.killDaemon(false, past); err != nil {
			t.Fatal(err)
		}
		if err := p.startDaemon(); err != nil {
			t.Fatalf("pixie does not start again with the disk full: %v", err)
		}
		if body, err := p.Fetch(client, p.URL()+"/boot.ipxe"); err != nil || !strings.HasPrefix(string(body), "#!ipxe") {
			t.Errorf("/boot.ipxe after a restart with the disk full: %v\n%s", err, body)
		}
		p.CLIJSON(t, &m, "machines", "show", macKnown)
		if m.Hostname != "before-full" {
			t.Errorf("after a restart with the disk full, %s is %+v; want hostname before-full", macKnown, m)
		}
	})

	// Space again: writes and events work.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	t.Run("freed", func(t *testing.T) {
		p.MustCLI(t, "machines", "set", macKnown, "--hostname", "after-full", "--var", "seq=3")
		since := p.LastEventID(t, macDefault)
		script, err := p.Fetch(client, p.scriptURL(macDefault))
		if err != nil {
			t.Fatal(err)
		}
		// The token can be stored again: a boot script, and its event.
		if u, ok := kernelURL(string(script)); !ok || !strings.Contains(u, "/assets/"+firstTimeKernel) || !strings.Contains(string(script), "token=") {
			t.Errorf("boot script of %s after space was freed:\n%s", macDefault, script)
		}
		checkTimeline(t, p, macDefault, since, []string{"script"}, nil)
		if err := p.killDaemon(false, past); err != nil {
			t.Fatal(err)
		}
		db := openDB(t, dbPath)
		integrityCheck(t, db)
		if got := dbMachines(t, db)[macKnown]; got.Hostname != "after-full" || got.Seq != "3" {
			t.Errorf("database after space was freed: %s is %s, want hostname after-full seq 3", macKnown, got)
		}
	})
	t.Logf("disk full: whole test %.1fs", time.Since(testStart).Seconds())
}
