// Package storm simulates a boot storm: many PXE clients powering on at once
// and network-booting from one pixie daemon through the whole chain, the way
// firmware, iPXE and the booted OS do it:
//
//	offer      DHCPDISCOVER with option 60 PXEClient:Arch, 93, 94, 97
//	           → pixie's proxy OFFER (boot file)
//	pxe        DHCPREQUEST to pixie's port 4011 → ACK
//	tftp       the first-stage file the reply names, over TFTP (blksize
//	           and tsize; UEFI clients first probe the size and abort, as
//	           OVMF does)
//	ipxe-dhcp  iPXE's DISCOVER (user class iPXE) → OFFER naming boot.ipxe
//	chain      GET boot.ipxe
//	script     GET the per-MAC script it chains to
//	kernel     GET the kernel the script names
//	initrd     GET the initrds
//	ignition   GET the Ignition URL from the kernel arguments (with the
//	           per-boot token pixie put there)
//
// The clients share one network interface: each has its own MAC in the
// DHCP chaddr, and while it holds one of a pool of addresses it talks from
// that address (pixie ties TFTP transfers to MACs by address). The LAN's
// DHCP server is stood in for by that pool: a client takes an address once
// pixie's offer is in (and announces it with a DHCPREQUEST to the LAN's
// server, which pixie sees and ignores) and gives it back after its TFTP
// download, so the pool bounds the number of machines in the PXE phase at
// once, not the storm.
//
// Every socket is opened inside Config.Enter, which must put the calling
// thread into a test network namespace: the simulator itself refuses to
// open a socket in the host's network namespace.
package storm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
)

// Client-side stages, in boot order.
const (
	StageOffer    = "offer"
	StagePXE      = "pxe"
	StageTFTP     = "tftp"
	StageIPXE     = "ipxe-dhcp"
	StageChain    = "chain"
	StageScript   = "script"
	StageKernel   = "kernel"
	StageInitrd   = "initrd"
	StageIgnition = "ignition"
)

// Stages lists the client-side stages in order.
var Stages = []string{StageOffer, StagePXE, StageTFTP, StageIPXE, StageChain, StageScript, StageKernel, StageInitrd, StageIgnition}

// Config says whom to boot from and how the storm goes.
type Config struct {
	// Clients is how many machines boot.
	Clients int
	// Ramp spreads the clients' power-on evenly over this long.
	Ramp time.Duration
	// UEFIShare is the fraction of clients that are UEFI x86-64 (ipxe.efi,
	// with OVMF's TFTP size probe); the rest are BIOS (undionly.kpxe).
	UEFIShare float64

	// Iface is the client namespace's interface; ServerIP is pixie's
	// address, RouterIP the LAN DHCP server's (named in the REQUEST a
	// client sends it), Addrs the client addresses, all already configured
	// on Iface.
	Iface    string
	ServerIP netip.Addr
	RouterIP netip.Addr
	Addrs    []netip.Addr

	// Enter runs f on a thread inside the client network namespace: every
	// socket f opens belongs to that namespace. Required.
	Enter func(f func() error) error

	// MACBase gives the clients' MACs their first three bytes (default
	// 02:53:xx, locally administered, xx random per run).
	MACBase [3]byte

	// DHCPTimeouts are the waits for an answer before each retransmit;
	// after the last the stage fails (default 2, 4, 8, 16 s, like PXE
	// firmware). TFTPTimeout and TFTPRetries bound each TFTP packet
	// (default 2 s, 5). HTTPTimeout bounds each HTTP request (default
	// 60 s); HTTPAttempts is how often a failed request is tried (3).
	DHCPTimeouts []time.Duration
	TFTPTimeout  time.Duration
	TFTPRetries  int
	HTTPTimeout  time.Duration
	HTTPAttempts int

	// Pace, if set, is a pause after each stage: a slow machine whose
	// boot a person (or a browser test) can watch advance.
	Pace time.Duration

	// Logf, if set, receives progress lines.
	Logf func(format string, args ...any)
}

func (c *Config) fill() error {
	if c.Clients <= 0 {
		return errors.New("storm: no clients")
	}
	if c.Enter == nil {
		return errors.New("storm: Config.Enter is required (sockets must open in a test namespace)")
	}
	if c.Iface == "" || !c.ServerIP.Is4() || len(c.Addrs) == 0 {
		return errors.New("storm: Iface, ServerIP and Addrs are required")
	}
	if c.MACBase == [3]byte{} {
		c.MACBase = [3]byte{0x02, 0x53, 0}
		var b [1]byte
		rand.Read(b[:])
		c.MACBase[2] = b[0]
	}
	if len(c.DHCPTimeouts) == 0 {
		c.DHCPTimeouts = []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}
	}
	if c.TFTPTimeout <= 0 {
		c.TFTPTimeout = 2 * time.Second
	}
	if c.TFTPRetries <= 0 {
		c.TFTPRetries = 5
	}
	if c.HTTPTimeout <= 0 {
		c.HTTPTimeout = 60 * time.Second
	}
	if c.HTTPAttempts <= 0 {
		c.HTTPAttempts = 3
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	return nil
}

// StageTime is when a client finished a stage, from its power-on.
type StageTime struct {
	Stage string        `json:"stage"`
	At    time.Duration `json:"at"`
}

// Result is one client's boot.
type Result struct {
	MAC    string      `json:"mac"`
	Arch   string      `json:"arch"` // "bios" or "efi-x64"
	Stages []StageTime `json:"stages"`
	// Failed is the stage the client gave up in ("" when it got its
	// Ignition config), Err why.
	Failed string `json:"failed,omitempty"`
	Err    string `json:"err,omitempty"`
	// Total is the time from the first DISCOVER to the Ignition config.
	Total time.Duration `json:"total"`
	// Retries counts retransmitted packets and repeated requests by stage.
	Retries map[string]int `json:"retries,omitempty"`
	// AddrWait is how long the client waited for a free address.
	AddrWait time.Duration `json:"addr_wait"`
	// Bytes received over TFTP and HTTP.
	TFTPBytes, HTTPBytes int64
}

// Report sums up a storm.
type Report struct {
	Clients   int            `json:"clients"`
	Completed int            `json:"completed"`
	Failures  map[string]int `json:"failures"` // by stage
	// Time from a client's first DISCOVER to its Ignition config, over the
	// clients that got there.
	P50, P90, P99, Max time.Duration
	// The same without the time clients waited for a free address of the
	// pool (a limit of the simulation, not of pixie).
	BusyP50, BusyP99 time.Duration
	// Wall is the whole storm, first power-on to last client done.
	Wall        time.Duration
	Retries     map[string]int `json:"retries"` // by stage, all clients
	AddrWaitMax time.Duration  `json:"addr_wait_max"`
	Results     []Result       `json:"results"`
}

// Failed is the number of clients that did not get their Ignition config.
func (r *Report) Failed() int { return r.Clients - r.Completed }

// FirstErrors returns up to n distinct failure messages with a MAC each.
func (r *Report) FirstErrors(n int) []string {
	var out []string
	seen := map[string]bool{}
	for _, res := range r.Results {
		if res.Failed == "" || seen[res.Failed+res.Err] {
			continue
		}
		seen[res.Failed+res.Err] = true
		out = append(out, fmt.Sprintf("%s %s: %s", res.MAC, res.Failed, res.Err))
		if len(out) == n {
			break
		}
	}
	return out
}

// runner is one storm in progress.
type runner struct {
	cfg  Config
	host netNS        // the namespace Run was called in: never open sockets there
	dhcp *net.UDPConn // 0.0.0.0:68 on Iface: broadcast replies for everyone
	pool chan netip.Addr

	mu      sync.Mutex
	pending map[dhcpv4.TransactionID]chan *dhcpv4.DHCPv4
}

// Run boots cfg.Clients clients and returns how it went. It returns an
// error only when the storm cannot start (no socket); clients that fail
// are in the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	r, err := newRunner(cfg)
	if err != nil {
		return nil, err
	}
	for _, a := range cfg.Addrs {
		r.pool <- a
	}
	err = r.enter(func() (err error) {
		r.dhcp, err = server4.NewIPv4UDPConn(cfg.Iface, &net.UDPAddr{IP: net.IPv4zero, Port: dhcpv4.ClientPort})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("storm: DHCP client socket: %w", err)
	}
	defer r.dhcp.Close()
	go r.readDHCP()

	results := make([]Result, cfg.Clients)
	var wg sync.WaitGroup
	start := time.Now()
	nUEFI := int(float64(cfg.Clients)*cfg.UEFIShare + 0.5)
	for i := range cfg.Clients {
		at := start.Add(time.Duration(int64(cfg.Ramp) * int64(i) / int64(cfg.Clients)))
		c := &client{r: r, idx: i, uefi: spread(i, cfg.Clients, nUEFI)}
		c.mac = net.HardwareAddr{cfg.MACBase[0], cfg.MACBase[1], cfg.MACBase[2], byte(i >> 16), byte(i >> 8), byte(i)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-time.After(time.Until(at)):
			case <-ctx.Done():
				results[i] = Result{MAC: c.mac.String(), Arch: c.arch(), Failed: StageOffer, Err: "cancelled before power-on"}
				return
			}
			results[i] = c.boot(ctx)
		}()
	}
	wg.Wait()
	rep := summarize(results)
	rep.Wall = time.Since(start)
	return rep, nil
}

// spread reports whether client i of n is one of the k UEFI clients,
// spreading them evenly over the storm instead of front-loading them.
func spread(i, n, k int) bool {
	if k <= 0 {
		return false
	}
	if k >= n {
		return true
	}
	return (i*k)/n != ((i+1)*k)/n
}

func summarize(results []Result) *Report {
	rep := &Report{Clients: len(results), Failures: map[string]int{}, Retries: map[string]int{}, Results: results}
	var totals, busy []time.Duration
	for _, res := range results {
		for s, n := range res.Retries {
			rep.Retries[s] += n
		}
		rep.AddrWaitMax = max(rep.AddrWaitMax, res.AddrWait)
		if res.Failed != "" {
			rep.Failures[res.Failed]++
			continue
		}
		rep.Completed++
		totals = append(totals, res.Total)
		busy = append(busy, res.Total-res.AddrWait)
	}
	sort.Slice(totals, func(i, j int) bool { return totals[i] < totals[j] })
	sort.Slice(busy, func(i, j int) bool { return busy[i] < busy[j] })
	rep.BusyP50, rep.BusyP99 = Percentile(busy, 50), Percentile(busy, 99)
	rep.P50, rep.P90, rep.P99 = Percentile(totals, 50), Percentile(totals, 90), Percentile(totals, 99)
	if len(totals) > 0 {
		rep.Max = totals[len(totals)-1]
	}
	return rep
}

// Percentile returns the p-th percentile (nearest rank) of sorted.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

func newRunner(cfg Config) (*runner, error) {
	host, err := threadNetNS()
	if err != nil {
		return nil, err
	}
	return &runner{cfg: cfg, host: host, pool: make(chan netip.Addr, len(cfg.Addrs)), pending: map[dhcpv4.TransactionID]chan *dhcpv4.DHCPv4{}}, nil
}

// enter opens sockets through cfg.Enter, refusing the host namespace.
func (r *runner) enter(f func() error) error {
	return r.cfg.Enter(func() error {
		if err := notHostNamespace(r.host); err != nil {
			return err
		}
		return f()
	})
}

// readDHCP hands every BOOTREPLY on the shared port-68 socket to the
// client waiting for its transaction ID.
func (r *runner) readDHCP() {
	buf := make([]byte, 4096)
	for {
		n, _, err := r.dhcp.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		msg, err := dhcpv4.FromBytes(buf[:n])
		if err != nil || msg.OpCode != dhcpv4.OpcodeBootReply {
			continue
		}
		r.mu.Lock()
		ch := r.pending[msg.TransactionID]
		r.mu.Unlock()
		if ch != nil {
			select {
			case ch <- msg:
			default:
			}
		}
	}
}

// register reserves a fresh transaction ID and returns the channel its
// replies arrive on.
func (r *runner) register() (dhcpv4.TransactionID, chan *dhcpv4.DHCPv4) {
	ch := make(chan *dhcpv4.DHCPv4, 8)
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		var xid dhcpv4.TransactionID
		rand.Read(xid[:])
		if _, taken := r.pending[xid]; !taken {
			r.pending[xid] = ch
			return xid, ch
		}
	}
}

func (r *runner) unregister(xid dhcpv4.TransactionID) {
	r.mu.Lock()
	delete(r.pending, xid)
	r.mu.Unlock()
}

// httpClient returns a client whose connections come from src in the
// client namespace, with keep-alive like iPXE's.
func (r *runner) httpClient(src netip.Addr) *http.Client {
	dial := func(ctx context.Context, network, address string) (net.Conn, error) {
		var c net.Conn
		err := r.enter(func() (err error) {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IP(src.AsSlice())}, Timeout: r.cfg.HTTPTimeout}
			c, err = d.DialContext(ctx, "tcp4", address)
			return err
		})
		return c, err
	}
	return &http.Client{
		Timeout: r.cfg.HTTPTimeout,
		Transport: &http.Transport{
			DialContext:         dial,
			Proxy:               nil,
			DisableCompression:  true,
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     30 * time.Second,
		},
	}
}

// MACs returns the clients' MACs, in the order they powered on.
func (r *Report) MACs() []string {
	macs := make([]string, len(r.Results))
	for i, res := range r.Results {
		macs[i] = res.MAC
	}
	return macs
}
