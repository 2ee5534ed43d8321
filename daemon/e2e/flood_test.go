package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/bench/storm"
	"github.com/pixie-boot/pixie/internal/testnet"
)

// floodProbeMAC is the real PXE client that keeps booting during the floods.
var floodProbeMAC = net.HardwareAddr{0x52, 0x54, 0x00, 0xf1, 0x00, 0x01}

// probeStats sums up a series of probes.
type probeStats struct {
	n, failed, resent int
	p50, p99, max     time.Duration
	errs              []string
}

func summarizeProbes(ps []storm.Probe) probeStats {
	var st probeStats
	var lat []time.Duration
	for _, p := range ps {
		st.n++
		st.resent += p.Resent
		if p.Err != nil {
			st.failed++
			if len(st.errs) < 3 {
				st.errs = append(st.errs, p.Err.Error())
			}
			continue
		}
		lat = append(lat, p.Latency)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	st.p50, st.p99 = storm.Percentile(lat, 50), storm.Percentile(lat, 99)
	if len(lat) > 0 {
		st.max = lat[len(lat)-1]
	}
	return st
}

func (s probeStats) String() string {
	r := func(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
	return fmt.Sprintf("answered %d/%d, p50 %s p99 %s max %s, %d retransmits", s.n-s.failed, s.n, r(s.p50), r(s.p99), r(s.max), s.resent)
}

// floodProbeWhile probes every interval until done is closed, and returns the
// probes.
func floodProbeWhile(ctx context.Context, p *storm.Prober, interval time.Duration, done <-chan struct{}) []storm.Probe {
	var out []storm.Probe
	for {
		out = append(out, p.Discover(ctx))
		select {
		case <-done:
			return out
		case <-ctx.Done():
			return out
		case <-time.After(interval):
		}
	}
}

// floodRun starts a flood in the background and probes pixie while it
// lasts. It returns the packets sent, how long sending took, and the
// probes.
func floodRun(t *testing.T, ctx context.Context, env *storm.Env, prober *storm.Prober, f storm.Flood, mid func()) (int, time.Duration, []storm.Probe) {
	t.Helper()
	done := make(chan struct{})
	var sent int
	var sendErr error
	var took time.Duration
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		start := time.Now()
		if mid != nil {
			half := f
			half.Count /= 2
			var n int
			n, sendErr = storm.SendFlood(ctx, env.Config(1, 0, 0), half)
			sent += n
			if sendErr != nil {
				return
			}
			mid()
			rest := f
			rest.Count -= half.Count
			rest.MACBase = [2]byte{0x02, 0x47} // the second half's MACs are new too
			n, sendErr = storm.SendFlood(ctx, env.Config(1, 0, 0), rest)
			sent += n
		} else {
			sent, sendErr = storm.SendFlood(ctx, env.Config(1, 0, 0), f)
		}
		took = time.Since(start)
	}()
	probes := floodProbeWhile(ctx, prober, 100*time.Millisecond, done)
	wg.Wait()
	if sendErr != nil {
		t.Fatal(sendErr)
	}
	return sent, took, probes
}

func newFloodProber(t *testing.T, env *storm.Env) *storm.Prober {
	t.Helper()
	cfg := env.Config(1, 0, 0)
	// A PXE ROM's first retransmit comes after 4 s; a shorter schedule
	// makes a dropped DISCOVER visible without slowing the test much.
	cfg.DHCPTimeouts = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
	p, err := storm.NewProber(cfg, floodProbeMAC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func floodUsage(t *testing.T, env *storm.Env) storm.Usage {
	t.Helper()
	u, err := env.PixieUsage()
	if err != nil {
		t.Fatalf("pixie's usage: %v (pixie: %v)", err, env.Pixie.Err())
	}
	return u
}

func floodCounters(t *testing.T, ctx context.Context, env *storm.Env) map[string]uint64 {
	t.Helper()
	c, err := env.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestFloodNonPXE floods the LAN with ordinary DHCP (DISCOVERs and
// REQUESTs of Windows, Linux and Android clients, no PXEClient), 4000
// packets a second for 4 s, while a PXE client keeps asking pixie for its
// offer. pixie must ignore all of the flood (counting it by reason), keep
// answering the PXE client every time, and not grow its memory.
func TestFloodNonPXE(t *testing.T) {
	testnet.RequireRoot(t)
	env := storm.Start(t, storm.Options{Pixie: pixieBinary(t)})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	prober := newFloodProber(t, env)

	var baseline []storm.Probe
	for range 20 {
		baseline = append(baseline, prober.Discover(ctx))
		time.Sleep(20 * time.Millisecond)
	}
	before, c0 := floodUsage(t, env), floodCounters(t, ctx, env)

	f := storm.Flood{Rate: 4000, Count: 16000}
	sent, took, probes := floodRun(t, ctx, env, prober, f, nil)
	time.Sleep(time.Second) // let pixie drain its socket
	after, c1 := floodUsage(t, env), floodCounters(t, ctx, env)

	b, d := summarizeProbes(baseline), summarizeProbes(probes)
	ignored := (c1["dhcp.ignored.not-pxe"] - c0["dhcp.ignored.not-pxe"]) + (c1["dhcp.ignored.request-not-for-us"] - c0["dhcp.ignored.request-not-for-us"])
	received := c1["dhcp.received"] - c0["dhcp.received"]
	t.Logf("flood: %d non-PXE packets in %s (%.0f/s); pixie received %d, ignored %d (not-pxe %d)",
		sent, took.Round(time.Millisecond), float64(sent)/took.Seconds(), received, ignored, c1["dhcp.ignored.not-pxe"]-c0["dhcp.ignored.not-pxe"])
	t.Logf("PXE answer latency before the flood: %s", b)
	t.Logf("PXE answer latency during the flood: %s", d)
	t.Logf("pixie before: %s; after: %s; RSS grew %.1f MiB, CPU for the flood %s",
		before, after, storm.MiB(after.RSS-before.RSS), (after.CPU - before.CPU).Round(10*time.Millisecond))

	if b.failed > 0 || d.failed > 0 {
		t.Errorf("the PXE client went unanswered: %d of %d probes before the flood, %d of %d during it: %v %v", b.failed, b.n, d.failed, d.n, b.errs, d.errs)
	}
	if d.n < 10 {
		t.Errorf("only %d probes during the flood", d.n)
	}
	// Every packet pixie read was ignored, by reason: the flood has no
	// PXE client in it. (Packets the kernel dropped on a full socket
	// buffer never reach pixie, so ignored may be less than sent.)
	if ignored < uint64(sent)/2 {
		t.Errorf("pixie counted %d ignored packets (not-pxe + request-not-for-us) of %d sent", ignored, sent)
	}
	// Every packet of the flood is accounted for: read by pixie, or
	// dropped by the kernel on pixie's full socket and reported in
	// dhcp.dropped.kernel (read every 5 s, so wait for it).
	accounted := func(c map[string]uint64) (read, kernel uint64) {
		return c["dhcp.received"] - c0["dhcp.received"], c["dhcp.dropped.kernel"] - c0["dhcp.dropped.kernel"]
	}
	read, kernel := accounted(c1)
	for deadline := time.Now().Add(8 * time.Second); read+kernel < uint64(sent) && time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond)
		read, kernel = accounted(floodCounters(t, ctx, env))
	}
	t.Logf("flood packets: %d sent, %d read by pixie (probes included), %d dropped by the kernel", sent, read, kernel)
	if read+kernel < uint64(sent) {
		t.Errorf("%d flood packets sent, but pixie read %d and the kernel reports %d dropped: %d unaccounted for", sent, read, kernel, uint64(sent)-read-kernel)
	}
	answered := c1["dhcp.sent.dhcp-offer"] - c0["dhcp.sent.dhcp-offer"]
	if want := uint64(d.n + d.resent); answered > want {
		t.Errorf("pixie sent %d offers during the flood; only the PXE client's %d DISCOVERs deserve one", answered, want)
	}
	if grew := after.RSS - before.RSS; grew > 32<<20 {
		t.Errorf("pixie's RSS grew by %.1f MiB during a flood it ignores", storm.MiB(grew))
	}
}

// TestFloodPXEMACs floods pixie with PXE DISCOVERs from 50,000 distinct
// (spoofed) MACs with events_max set to 1000, while a real PXE client keeps
// booting. pixie must keep answering that client, keep its memory bounded
// (no per-MAC state that grows with the number of MACs) and keep the events
// table within its limit (plus the trim slack of 500 inserts).
func TestFloodPXEMACs(t *testing.T) {
	testnet.RequireRoot(t)
	const eventsMax = 1000
	env := storm.Start(t, storm.Options{Pixie: pixieBinary(t), EventsMax: eventsMax, EventsMaxAge: "30d"})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	prober := newFloodProber(t, env)
	if p := prober.Discover(ctx); p.Err != nil {
		t.Fatalf("the PXE client is not answered before the flood: %v", p.Err)
	}
	before, c0 := floodUsage(t, env), floodCounters(t, ctx, env)

	var mid storm.Usage
	f := storm.Flood{Rate: 5000, Count: 50000, PXE: true}
	// Called from the flood's goroutine: no t.Fatal there.
	sent, took, probes := floodRun(t, ctx, env, prober, f, func() { mid, _ = env.PixieUsage() })
	time.Sleep(2 * time.Second) // let pixie drain its socket and finish recording
	after, c1 := floodUsage(t, env), floodCounters(t, ctx, env)
	n, err := env.CountEvents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var dbBytes int64
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if fi, err := os.Stat(filepath.Join(env.DataDir, "pixie.db"+suffix)); err == nil {
			dbBytes += fi.Size()
		}
	}

	d := summarizeProbes(probes)
	offers := c1["dhcp.sent.dhcp-offer"] - c0["dhcp.sent.dhcp-offer"]
	t.Logf("flood: %d PXE DISCOVERs from distinct MACs in %s (%.0f/s); pixie received %d, answered %d",
		sent, took.Round(time.Millisecond), float64(sent)/took.Seconds(), c1["dhcp.received"]-c0["dhcp.received"], offers)
	t.Logf("real PXE client during the flood: %s", d)
	t.Logf("pixie before: %s; half-way: %s; after: %s; CPU for the flood %s",
		before, mid, after, (after.CPU - before.CPU).Round(10*time.Millisecond))
	t.Logf("events table: %d rows (events_max %d); database with WAL %.1f MiB", n, eventsMax, storm.MiB(dbBytes))

	if d.failed > 0 {
		t.Errorf("the real PXE client went unanswered in %d of %d probes during the flood: %v", d.failed, d.n, d.errs)
	}
	if offers < uint64(sent)/4 {
		t.Errorf("pixie answered only %d of %d flood DISCOVERs: the flood did not reach it", offers, sent)
	}
	if n > eventsMax+500 {
		t.Errorf("events table holds %d rows after the flood, want at most %d (events_max) + 500 (trim slack)", n, eventsMax)
	}
	// Memory: the second 25,000 MACs must not cost what the first did.
	if grew := after.RSS - before.RSS; grew > 48<<20 {
		t.Errorf("pixie's RSS grew by %.1f MiB over a 50,000-MAC flood", storm.MiB(grew))
	}
	if mid.RSS > 0 {
		if grew := after.RSS - mid.RSS; grew > 16<<20 {
			t.Errorf("pixie's RSS grew by %.1f MiB over the second 25,000 MACs (half-way %s, after %s): per-MAC state?", storm.MiB(grew), mid, after)
		}
	}
	if dbBytes > 64<<20 {
		t.Errorf("database with WAL is %.1f MiB after the flood", storm.MiB(dbBytes))
	}
}
