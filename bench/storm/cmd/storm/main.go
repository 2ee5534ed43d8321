// Command storm runs pixie boot storms: for each client count it builds a
// throw-away namespace LAN, starts the given pixie binary in it, boots that
// many simulated PXE clients through the whole chain (see package
// bench/storm) and prints one table row: completions, failures by stage,
// time to Ignition, pixie's peak RSS and CPU time. It needs root (network
// namespaces); nothing it sends leaves those namespaces.
//
//	sudo storm -pixie bin/pixie 50 200 1000
//
// bench/storm.sh builds pixie and this command and runs it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/bench/storm"
)

func main() {
	pixie := flag.String("pixie", "", "the pixie binary to run (required)")
	ramp := flag.Duration("ramp", 0, "spread the clients' power-on over this long (default: 10 ms per client, at least 2 s)")
	uefi := flag.Float64("uefi", 0.5, "fraction of clients that are UEFI (ipxe.efi); the rest are BIOS (undionly.kpxe)")
	jsonOut := flag.String("json", "", "also write every run's report, per-client results included, to this file")
	check := flag.Bool("check-timelines", true, "check every MAC's timeline in pixie after the storm")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up on one storm after this long")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: storm -pixie BIN [flags] N...\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *pixie == "" || flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	var counts []int
	for _, a := range flag.Args() {
		n, err := strconv.Atoi(a)
		if err != nil || n <= 0 {
			log.Fatalf("storm: %q is not a client count", a)
		}
		counts = append(counts, n)
	}
	if os.Geteuid() != 0 {
		log.Fatal("storm: needs root to create network namespaces")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var rows []row
	var reports []any
	failed := false
	for _, n := range counts {
		if ctx.Err() != nil {
			break
		}
		r := *ramp
		if r == 0 {
			r = max(2*time.Second, time.Duration(n)*10*time.Millisecond)
		}
		res, err := runOne(ctx, *pixie, n, r, *uefi, *timeout, *check)
		if err != nil {
			log.Printf("storm: %d clients: %v", n, err)
			failed = true
			continue
		}
		rows = append(rows, res.row)
		reports = append(reports, res.json)
		if res.row.failed > 0 || res.row.timelineProblems > 0 {
			failed = true
		}
		// Progress on stderr; stdout gets the one final table, which
		// bench/run-all.sh copies into its report.
		printTable(os.Stderr, rows)
	}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(reports, "", "  ")
		if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			log.Print(err)
		}
	}
	fmt.Println()
	printTable(os.Stdout, rows)
	if failed {
		os.Exit(1)
	}
}

type row struct {
	n, completed, failed int
	failures             map[string]int
	p50, p90, p99, max   time.Duration
	busyP50, busyP99     time.Duration
	addrWaitMax          time.Duration
	wall, ramp           time.Duration
	peakRSS              int64
	cpu                  time.Duration
	retries              map[string]int
	timelineProblems     int
	counters             map[string]uint64
}

type result struct {
	row  row
	json any
}

// runOne runs one storm of n clients on a LAN of its own.
func runOne(ctx context.Context, pixie string, n int, ramp time.Duration, uefi float64, timeout time.Duration, check bool) (res result, err error) {
	tb := newRunner(fmt.Sprintf("storm-%d", n))
	defer tb.finish()
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(fatal); !ok {
				panic(r)
			}
			err = errors.New("setup failed (see above)")
		}
	}()
	env := storm.Start(tb, storm.Options{Pixie: pixie})
	before, err := env.PixieUsage()
	if err != nil {
		return res, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	log.Printf("storm: %d clients over %s against pixie pid %d (%s)", n, ramp, env.Pixie.Pid(), before)
	rep, err := storm.Run(ctx, env.Config(n, ramp, uefi))
	if err != nil {
		return res, err
	}
	after, err := env.PixieUsage()
	if err != nil {
		return res, fmt.Errorf("pixie after the storm: %v (pixie: %v)", err, env.Pixie.Err())
	}
	counters, err := env.Counters(ctx)
	if err != nil {
		return res, err
	}
	problems := map[string]string{}
	if check {
		if problems, err = storm.CheckTimelines(ctx, env.API(), rep.MACs()); err != nil {
			return res, err
		}
		shown := 0
		for mac, p := range problems {
			if shown++; shown <= 5 {
				log.Printf("storm: pixie timeline of %s: %s", mac, p)
			}
		}
	}
	for _, e := range rep.FirstErrors(10) {
		log.Printf("storm: failed: %s", e)
	}
	log.Printf("storm: %d clients: %d completed in %s; pixie %s; counters %v", n, rep.Completed, rep.Wall.Round(time.Millisecond), after, interesting(counters))
	res.row = row{
		n: n, completed: rep.Completed, failed: rep.Failed(), failures: rep.Failures,
		p50: rep.P50, p90: rep.P90, p99: rep.P99, max: rep.Max, wall: rep.Wall, ramp: ramp,
		busyP50: rep.BusyP50, busyP99: rep.BusyP99, addrWaitMax: rep.AddrWaitMax,
		peakRSS: after.PeakRSS, cpu: after.CPU - before.CPU, retries: rep.Retries,
		timelineProblems: len(problems), counters: counters,
	}
	res.json = map[string]any{
		"clients": n, "ramp": ramp.String(), "report": rep, "pixie_before": before, "pixie_after": after,
		"counters": counters, "timeline_problems": problems,
	}
	if tb.Failed() {
		return res, errors.New("the LAN reported errors (see above)")
	}
	return res, nil
}

// interesting keeps the counters that say something about a storm.
func interesting(c map[string]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for k, v := range c {
		if strings.HasPrefix(k, "dhcp.") || strings.HasPrefix(k, "tftp.") || strings.HasPrefix(k, "http.") {
			out[k] = v
		}
	}
	return out
}

func printTable(w *os.File, rows []row) {
	fmt.Fprintf(w, "| clients | ramp | completed | failed (by stage) | p50 | p90 | p99 | max | p50 / p99 w/o address wait | max address wait | wall | pixie peak RSS | pixie CPU | retransmits | timeline problems |\n")
	fmt.Fprintf(w, "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(w, "| %d | %s | %d | %d %s | %s | %s | %s | %s | %s / %s | %s | %s | %.1f MiB | %s | %s | %d |\n",
			r.n, r.ramp, r.completed, r.failed, mapString(r.failures),
			ms(r.p50), ms(r.p90), ms(r.p99), ms(r.max), ms(r.busyP50), ms(r.busyP99), ms(r.addrWaitMax), ms(r.wall),
			storm.MiB(r.peakRSS), r.cpu.Round(10*time.Millisecond), mapString(r.retries), r.timelineProblems)
	}
}

func ms(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

func mapString(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s:%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// runner gives the testnet helpers the testing.TB they are written for,
// outside `go test`: cleanups run in finish, Fatal ends the storm (through
// a panic runOne recovers), logs go to the log package. Only the methods
// testnet and storm call are implemented; the embedded nil TB makes any
// other call fail loudly.
type runner struct {
	testing.TB
	name     string
	cleanups []func()
	failed   bool
}

type fatal struct{}

func newRunner(name string) *runner { return &runner{name: name} }

func (r *runner) Name() string { return r.name }
func (r *runner) Helper()      {}
func (r *runner) Cleanup(f func()) {
	r.cleanups = append(r.cleanups, f)
}
func (r *runner) Logf(format string, args ...any) { log.Printf(r.name+": "+format, args...) }
func (r *runner) Log(args ...any)                 { log.Print(append([]any{r.name + ": "}, args...)...) }
func (r *runner) Errorf(format string, args ...any) {
	r.failed = true
	r.Logf(format, args...)
}
func (r *runner) Error(args ...any) { r.failed = true; r.Log(args...) }
func (r *runner) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	panic(fatal{})
}
func (r *runner) Fatal(args ...any) { r.Error(args...); panic(fatal{}) }
func (r *runner) Skip(args ...any)  { r.Fatal(append([]any{"cannot run:"}, args...)...) }
func (r *runner) Skipf(format string, args ...any) {
	r.Fatalf("cannot run: "+format, args...)
}
func (r *runner) Failed() bool { return r.failed }
func (r *runner) TempDir() string {
	dir, err := os.MkdirTemp("", "pixie-storm-"+r.name+"-")
	if err != nil {
		r.Fatal(err)
	}
	r.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// finish runs the cleanups, last registered first, as testing does.
func (r *runner) finish() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	r.cleanups = nil
}
