package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/internal/testnet"
)

// Full DHCP mode on a LAN whose router hands out no addresses: the case of
// a laptop cabled straight to one machine, or an isolated lab switch.

const (
	macFullBIOS = "52:54:00:e2:f0:02"
	macFullUEFI = "52:54:00:e2:f0:01"
	// fullPool is the default pool on testnet.ServerIP/24: the upper half.
	fullPool = "10.77.0.128-10.77.0.254"
)

// boundAddr is the address the test initrd's udhcpc bound, from its
// PIXIE-E2E-DHCP-BOUND= line.
func boundAddr(t *testing.T, res *testnet.VMResult) string {
	t.Helper()
	const marker = "PIXIE-E2E-DHCP-BOUND="
	i := strings.LastIndex(res.Log, marker)
	if i < 0 {
		t.Fatalf("the VM's initrd printed no %s line:\n%s", marker, tail(cleanConsole(res.Log), 40))
	}
	v := res.Log[i+len(marker):]
	if j := strings.IndexAny(v, "/ \r\n"); j >= 0 {
		v = v[:j]
	}
	return v
}

// leaseOf is mac's lease in `pixie leases --json`.
func leaseOf(t *testing.T, p *pixieLAN, mac string) (api.Lease, api.Leases) {
	t.Helper()
	var ls api.Leases
	p.CLIJSON(t, &ls, "leases")
	for _, l := range ls.Leases {
		if l.MAC == mac {
			return l, ls
		}
	}
	return api.Lease{}, ls
}

// TestFullDHCPBootsRealFirmware: SeaBIOS (iPXE ROM) and OVMF (native PXE)
// machines on a LAN with no other DHCP server get their address and boot
// file from pixie in one reply, boot to the Ignition marker, and the
// initrd's own DHCP client is given the same address. After a restart
// (without --dhcp on the command line: the mode is stored) each MAC gets
// its address again.
func TestFullDHCPBootsRealFirmware(t *testing.T) {
	if testing.Short() {
		t.Skip("boots three VMs under TCG: not with -short")
	}
	testnet.RequireVM(t)
	p := startPixieLAN(t, pixieOptions{WithOS: true, NoRouterDHCP: true, ServeArgs: []string{"--dhcp"}})
	past := trackDaemons(t, p)
	st := p.Status(t)
	if st.DHCP.Mode != "full" || st.DHCP.Pool != fullPool || st.DHCP.PoolSize != 127 || st.DHCP.LeaseTime != "1h0m0s" {
		t.Fatalf("pixie status DHCP: %+v, want full mode, pool %s of 127, leases of 1h", st.DHCP, fullPool)
	}
	if len(st.DHCP.Servers) != 0 || st.DHCP.Warning != "" {
		t.Errorf("no other DHCP server is on the LAN, status says %+v", st.DHCP)
	}
	p.appendArgs(t, defaultProfile, "panic=5")
	pool := netip.MustParsePrefix(testnet.ServerIP + "/24")
	addrs := map[string]string{}

	boot := func(t *testing.T, fw testnet.Firmware, mac string) string {
		res, wall := p.Boot(context.Background(), t, fw, mac, nil)
		t.Logf("%s boot with full DHCP: %s (wall %s)", fw, res, wall.Round(100*time.Millisecond))
		bootedSHA(t, res)
		ip := boundAddr(t, res)
		if a, err := netip.ParseAddr(ip); err != nil || !pool.Contains(a) || u8(a) < 128 {
			t.Fatalf("the initrd bound %q, not an address of pixie's pool %s", ip, fullPool)
		}
		l, ls := leaseOf(t, p, mac)
		if l.IP != ip || l.State != "bound" {
			t.Errorf("pixie leases: %s has %+v, want %s bound (all: %+v)", mac, l, ip, ls.Leases)
		}
		// The firmware's own DHCP got the same address as the initrd:
		// every address reply pixie sent this MAC names it.
		for _, e := range p.Timeline(t, mac) {
			if e.Stage == "dhcp" && (strings.HasPrefix(e.Detail, "offer ") || strings.HasPrefix(e.Detail, "ack ")) {
				if f := strings.Fields(e.Detail); len(f) < 2 || f[1] != ip {
					t.Errorf("pixie answered %s with %q, not the address %s its initrd got", mac, e.Detail, ip)
				}
			}
		}
		return ip
	}
	t.Run("bios", func(t *testing.T) { addrs[macFullBIOS] = boot(t, testnet.BIOS, macFullBIOS) })
	t.Run("uefi", func(t *testing.T) {
		addrs[macFullUEFI] = boot(t, testnet.UEFI, macFullUEFI)
		checkTimeline(t, p, macFullUEFI, 0, uefiStages, nil)
	})
	if addrs[macFullBIOS] != "" && addrs[macFullBIOS] == addrs[macFullUEFI] {
		t.Errorf("both machines got %s", addrs[macFullBIOS])
	}
	// pixie restarts while the machine boots: after the firmware's DHCP
	// and the kernel and initrd downloads, before the initrd's own DHCP.
	// The restarted pixie (no --dhcp on its command line: the mode is
	// stored) must give the initrd the address the firmware got.
	t.Run("restart-mid-boot", func(t *testing.T) {
		since := p.LastEventID(t, macFullBIOS)
		restarted := make(chan error, 1)
		go func() {
			deadline := time.Now().Add(3 * time.Minute)
			for time.Now().Before(deadline) {
				var es []api.Event
				if out, err := p.CLI("timeline", macFullBIOS, "--limit", "1000", "--json"); err == nil && json.Unmarshal([]byte(out), &es) == nil {
					if slices.Contains(stagesSince(es, since), "initrd") {
						if err := p.killDaemon(false, past); err != nil {
							restarted <- err
							return
						}
						restarted <- p.startDaemon() // no --dhcp: the stored mode
						return
					}
				}
				time.Sleep(100 * time.Millisecond)
			}
			restarted <- fmt.Errorf("the machine never fetched its initrd")
		}()
		got := boot(t, testnet.BIOS, macFullBIOS)
		if err := <-restarted; err != nil {
			t.Fatalf("restarting pixie mid-boot: %v", err)
		}
		if got != addrs[macFullBIOS] {
			t.Errorf("after pixie restarted mid-boot the initrd got %s; the machine had %s", got, addrs[macFullBIOS])
		}
		if m := p.Status(t).DHCP.Mode; m != "full" {
			t.Errorf("after a restart without --dhcp the mode is %q, want the stored full", m)
		}
		if len(past.past) == 0 {
			t.Errorf("pixie was not restarted during the boot")
		}
	})
}

func u8(a netip.Addr) byte { return a.As4()[3] }

// serveOnce runs `pixie serve` in the server namespace and returns its
// output when it exits by itself within d (ok false if it was still
// running and had to be stopped). It runs as a person at a terminal, not
// under a service manager.
func serveOnce(t *testing.T, p *pixieLAN, d time.Duration, extra ...string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := p.LAN.CommandContext(ctx, p.LAN.ServerNS, p.Bin, append(p.serveArgs(), extra...)...)
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "INVOCATION_ID=") || strings.HasPrefix(kv, "XPC_SERVICE_NAME=")
	})
	out, _ := cmd.CombinedOutput()
	return string(out), ctx.Err() == nil
}

// TestFullDHCPRivalServer: beside another DHCP server (dnsmasq on the
// router) `pixie serve --dhcp` refuses to start and says why; started
// before that server appears, pixie stops handing out addresses once it
// sees it, records a server event and says why in status, while the
// addresses it already leased are still renewed.
func TestFullDHCPRivalServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts pixie and dnsmasq in namespaces: not with -short")
	}
	testnet.RequireRoot(t)
	p := startPixieLAN(t, pixieOptions{NoRouterDHCP: true, ServeArgs: []string{"--dhcp"}})
	past := trackDaemons(t, p)
	clientNS, err := p.LAN.AddClient("fclient", "")
	if err != nil {
		t.Fatal(err)
	}
	c := newDHCPClient(t, p.LAN, clientNS)
	pixie := net.ParseIP(testnet.ServerIP).To4()
	router := net.ParseIP(testnet.RouterIP).To4()

	// A plain (non-PXE) client gets an address: DISCOVER, REQUEST, ACK.
	offers := c.exchange(t, dhcpv4.MessageTypeDiscover, nil, nil, 3*time.Second, pixie)
	offer := from(offers, pixie)
	if offer == nil || offer.MessageType() != dhcpv4.MessageTypeOffer || offer.YourIPAddr.IsUnspecified() {
		t.Fatalf("no address offer from pixie: %v", summarize(offers))
	}
	leased := offer.YourIPAddr
	acks := c.exchange(t, dhcpv4.MessageTypeRequest, nil, []dhcpv4.Modifier{dhcpv4.WithServerIP(pixie),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(pixie)), dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(leased))}, 3*time.Second, pixie)
	if a := from(acks, pixie); a == nil || a.MessageType() != dhcpv4.MessageTypeAck || !a.YourIPAddr.Equal(leased) {
		t.Fatalf("no ACK of %s: %v", leased, summarize(acks))
	}

	// A reservation: the MAC always gets its address. pixie's own address
	// and the pool's are refused, saying which.
	resMAC := net.HardwareAddr{0x52, 0x54, 0x00, 0xe2, 0xf1, 0x0e}
	for _, bad := range []struct{ ip, why string }{
		{testnet.ServerIP, "pixie's own address"},
		{"10.77.0.140", "inside the DHCP pool " + fullPool},
	} {
		if out, err := p.CLI("machines", "set", resMAC.String(), "--ip", bad.ip); err == nil || !strings.Contains(err.Error(), bad.why) {
			t.Errorf("reserving %s: %v\n%s", bad.ip, err, out)
		}
	}
	p.MustCLI(t, "machines", "set", resMAC.String(), "--ip", "10.77.0.60/24", "--gateway", "10.77.0.1")
	c.mac = resMAC
	offers = c.exchange(t, dhcpv4.MessageTypeDiscover, nil, nil, 3*time.Second, pixie)
	if o := from(offers, pixie); o == nil || o.YourIPAddr.String() != "10.77.0.60" || len(o.Router()) != 1 || o.Router()[0].String() != "10.77.0.1" {
		t.Errorf("the reserved MAC was offered %v, want 10.77.0.60 via 10.77.0.1", summarize(offers))
	}
	c.mac = offer.ClientHWAddr

	// The rival appears.
	if _, err := p.LAN.StartRouterDHCP(); err != nil {
		t.Fatal(err)
	}
	// A new client's DISCOVER: dnsmasq offers; pixie, seeing that offer,
	// stops handing out addresses.
	c.mac = net.HardwareAddr{0x52, 0x54, 0x00, 0xe2, 0xf1, 0x01}
	c.exchange(t, dhcpv4.MessageTypeDiscover, nil, nil, 5*time.Second, router)
	deadline := time.Now().Add(10 * time.Second)
	var st api.Status
	for {
		st = p.Status(t)
		if st.DHCP.Warning != "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(st.DHCP.Warning, "another DHCP server, "+testnet.RouterIP) || !strings.Contains(st.DHCP.Warning, "stopped handing out addresses") {
		t.Fatalf("status after the rival appeared: %+v", st.DHCP)
	}
	if !strings.Contains(p.Daemon.Log(), "stopped handing out addresses") {
		t.Errorf("pixie's log does not say it stopped handing out addresses")
	}
	c.mac = net.HardwareAddr{0x52, 0x54, 0x00, 0xe2, 0xf1, 0x02}
	replies := c.exchange(t, dhcpv4.MessageTypeDiscover, nil, nil, 5*time.Second, router)
	if r := from(replies, pixie); r != nil {
		t.Errorf("pixie still offered an address beside the rival: %v", summarize(replies))
	}
	// The lease pixie gave before is still renewed (rebinding, broadcast).
	c.mac = offer.ClientHWAddr
	acks = c.exchange(t, dhcpv4.MessageTypeRequest, nil, []dhcpv4.Modifier{dhcpv4.WithClientIP(leased)}, 3*time.Second, pixie)
	if a := from(acks, pixie); a == nil || a.MessageType() != dhcpv4.MessageTypeAck {
		t.Errorf("pixie did not renew the lease it gave (%s) beside the rival: %v", leased, summarize(acks))
	}

	// Restarted now, pixie refuses to start beside the rival, and says so.
	if err := p.killDaemon(false, past); err != nil {
		t.Fatal(err)
	}
	out, exited := serveOnce(t, p, 60*time.Second)
	if !exited || !strings.Contains(out, "another DHCP server answers on this link") || !strings.Contains(out, testnet.RouterIP) || !strings.Contains(out, "--force") {
		t.Fatalf("pixie serve (stored --dhcp) beside dnsmasq: exited %v, output:\n%s", exited, tail(out, 30))
	}
	t.Logf("pixie refused to start: %s", lastLine(out))
	// --force overrides, with a warning.
	out, exited = serveOnce(t, p, 15*time.Second, "--force")
	if exited || !strings.Contains(out, "because of --force") {
		t.Errorf("pixie serve --force beside dnsmasq: exited %v, output:\n%s", exited, tail(out, 30))
	}
}

// TestProxyReservationInBoot: in proxy mode pixie cannot hand out a
// reserved address, so it writes it into the boot: the booted test initrd
// prints the kernel command line it was given, with ip= and nameserver=.
// (The OS network file in the Ignition config is covered, validated by the
// Ignition library, in daemon/httpboot and daemon/ignition.)
func TestProxyReservationInBoot(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM under TCG: not with -short")
	}
	testnet.RequireVM(t)
	p := startPixieLAN(t, pixieOptions{WithOS: true})
	p.appendArgs(t, defaultProfile, "panic=5")
	const mac = "52:54:00:e2:f0:03"
	p.MustCLI(t, "machines", "set", mac, "--ip", "10.77.0.50/24", "--gateway", testnet.RouterIP, "--dns", testnet.RouterIP, "--hostname", "fixed")
	res, wall := p.Boot(context.Background(), t, testnet.BIOS, mac, nil)
	t.Logf("BIOS boot with a reservation: %s (wall %s)", res, wall.Round(100*time.Millisecond))
	bootedSHA(t, res)
	cmdline, ok := res.KernelCmdline()
	want := "ip=10.77.0.50::" + testnet.RouterIP + ":255.255.255.0:fixed::none nameserver=" + testnet.RouterIP
	if !ok || !strings.Contains(cmdline, want) {
		t.Errorf("the initrd's kernel command line %q lacks %q", cmdline, want)
	}
	if st := p.Status(t); st.DHCP.Mode != "proxy" || len(st.DHCP.Servers) == 0 || st.DHCP.Servers[0] == "" || st.DHCP.Warning != "" {
		t.Errorf("status on a LAN with a DHCP server: %+v", st.DHCP)
	}
}

// TestProxyNoDHCPServer: in proxy mode on a LAN where nobody hands out
// addresses pixie says so (status, log), and a PXE client it answers gets
// a boot event that explains why it will get no address.
func TestProxyNoDHCPServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts pixie in namespaces: not with -short")
	}
	testnet.RequireRoot(t)
	p := startPixieLAN(t, pixieOptions{NoRouterDHCP: true})
	deadline := time.Now().Add(20 * time.Second)
	var st api.Status
	for {
		if st = p.Status(t); st.DHCP.Checked || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	want := "no DHCP server answered on " + testnet.Iface + ": machines will get no address; run `pixie serve --dhcp` to hand out addresses on this link"
	if st.DHCP.Mode != "proxy" || st.DHCP.Warning != want {
		t.Fatalf("status DHCP %+v, want the warning %q", st.DHCP, want)
	}
	if out := p.MustCLI(t, "status"); !strings.Contains(out, "WARNING: "+want) {
		t.Errorf("pixie status does not show the warning:\n%s", out)
	}
	clientNS, err := p.LAN.AddClient("nclient", "")
	if err != nil {
		t.Fatal(err)
	}
	c := newDHCPClient(t, p.LAN, clientNS)
	pixie := net.ParseIP(testnet.ServerIP).To4()
	replies := c.exchange(t, dhcpv4.MessageTypeDiscover, nil, []dhcpv4.Modifier{
		dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00000:UNDI:002001")),
		dhcpv4.WithOption(dhcpv4.OptGeneric(dhcpv4.OptionClientSystemArchitectureType, []byte{0, 0})),
	}, 3*time.Second, pixie)
	if from(replies, pixie) == nil {
		t.Fatalf("no proxy offer: %v", summarize(replies))
	}
	// Boot events are stored shortly after the answer goes out.
	found := false
	for end := time.Now().Add(5 * time.Second); !found && time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		for _, e := range p.Timeline(t, c.mac.String()) {
			found = found || strings.Contains(e.Detail, "no DHCP server answered on "+testnet.Iface+": this machine gets no address")
		}
	}
	if !found {
		t.Errorf("no boot event explains the missing address: %s", formatEvents(p.Timeline(t, c.mac.String())))
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// rssKB is a process's resident set size from /proc.
func rssKB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// TestFullDHCPFlood: thousands of new MACs DISCOVER against a small pool.
// The pool runs out (a status warning and a server event, no crash), the
// lease given before the flood still renews, the table stays within the
// pool, and pixie's memory stays bounded.
func TestFullDHCPFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("floods pixie in namespaces: not with -short")
	}
	testnet.RequireRoot(t)
	p := startPixieLAN(t, pixieOptions{NoRouterDHCP: true, ServeArgs: []string{"--dhcp", "--dhcp-range", "10.77.0.200-10.77.0.219"}})
	clientNS, err := p.LAN.AddClient("flood", "")
	if err != nil {
		t.Fatal(err)
	}
	c := newDHCPClient(t, p.LAN, clientNS)
	pixie := net.ParseIP(testnet.ServerIP).To4()
	offer := from(c.exchange(t, dhcpv4.MessageTypeDiscover, nil, nil, 3*time.Second, pixie), pixie)
	if offer == nil {
		t.Fatal("no offer before the flood")
	}
	leased := offer.YourIPAddr
	if a := from(c.exchange(t, dhcpv4.MessageTypeRequest, nil, []dhcpv4.Modifier{
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(pixie)), dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(leased))}, 3*time.Second, pixie), pixie); a == nil || a.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatal("no ACK before the flood")
	}
	before := rssKB(t, p.Daemon.Pid())

	// The flood: 5000 MACs, in bursts of 100 with a pause between, so it
	// is bounded in count and time and stays inside the namespaces.
	const n = 5000
	bcast := &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ServerPort}
	start := time.Now()
	for i := range n {
		msg, err := dhcpv4.New(dhcpv4.WithTransactionID(dhcpv4.TransactionID{0xf1, byte(i >> 16), byte(i >> 8), byte(i)}),
			dhcpv4.WithHwAddr(net.HardwareAddr{0x02, 0xf1, 0x00, byte(i >> 16), byte(i >> 8), byte(i)}),
			dhcpv4.WithBroadcast(true), dhcpv4.WithMessageType(dhcpv4.MessageTypeDiscover))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.conn.WriteToUDP(msg.ToBytes(), bcast); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Logf("flood: %d DISCOVERs from new MACs in %s", n, time.Since(start).Round(time.Millisecond))
	time.Sleep(time.Second)

	st := p.Status(t)
	if st.DHCP.PoolSize != 20 || st.DHCP.PoolUsed != 20 || !strings.Contains(st.DHCP.Warning, "exhausted") {
		t.Errorf("after the flood: %+v, want the 20-address pool full and an exhausted warning", st.DHCP)
	}
	var ls api.Leases
	p.CLIJSON(t, &ls, "leases")
	if len(ls.Leases) > 20 {
		t.Errorf("%d lease records for a pool of 20", len(ls.Leases))
	}
	if !strings.Contains(p.Daemon.Log(), "is exhausted") {
		t.Errorf("pixie's log does not say the pool ran out")
	}
	// The lease from before renews (rebinding: ciaddr, broadcast).
	c.mac = offer.ClientHWAddr
	if a := from(c.exchange(t, dhcpv4.MessageTypeRequest, nil, []dhcpv4.Modifier{dhcpv4.WithClientIP(leased)}, 3*time.Second, pixie), pixie); a == nil || a.MessageType() != dhcpv4.MessageTypeAck || !a.YourIPAddr.Equal(leased) {
		t.Errorf("the lease %s did not renew after the flood", leased)
	}
	after := rssKB(t, p.Daemon.Pid())
	t.Logf("pixie RSS: %d kB before the flood, %d kB after", before, after)
	if after > before+32*1024 || after > 256*1024 {
		t.Errorf("pixie's RSS grew from %d kB to %d kB over the flood", before, after)
	}
	select {
	case <-p.Daemon.Done():
		t.Errorf("pixie exited during the flood: %v", p.Daemon.Err())
	default:
	}
}
