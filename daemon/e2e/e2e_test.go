package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/internal/testnet"
)

// The machines the end-to-end test boots.
const (
	macUEFI = "52:54:00:e2:e0:01"
	macBIOS = "52:54:00:e2:e0:02"
)

// uefiStages are the boot events of a UEFI machine, in order: OVMF's
// DISCOVER and pixie's proxy offer (dhcp), snponly.efi (the default
// loader) over TFTP, iPXE's own DISCOVER answered with boot.ipxe (dhcp
// again), the machine's script, its kernel and initrd, and its Ignition
// config. OVMF does not ask again on
// port 4011 (no pxe event): pixie's offer carries PXE_DISCOVERY_CONTROL
// bit 3 and the boot file, and EDK2 boots from such an offer directly
// (see daemon/dhcp's pxeVendorOptions). TestProxyDHCPOnLAN covers 4011.
var uefiStages = []string{"dhcp", "tftp", "dhcp", "script", "kernel", "initrd", "ignition"}

// butaneConfig is a Butane (fcos) profile config: pixie translates it to
// Ignition when it is stored and renders the hostname per machine.
const butaneConfig = `variant: fcos
version: 1.5.0
storage:
  files:
    - path: /etc/hostname
      mode: 0644
      overwrite: true
      contents:
        inline: {{json .Hostname}}
`

// workerIgnition is the guide's second step: the machine, now known, gets
// its own config. The hostname comes from the machine record, through the
// template.
const workerIgnition = `{
  "ignition": {"version": "3.4.0"},
  "storage": {
    "files": [{
      "path": "/etc/hostname",
      "mode": 420,
      "overwrite": true,
      "contents": {"source": "data:,{{.Hostname}}"}
    }]
  }
}
`

// TestPixieBootsRealFirmware is the guide's story on a virtual LAN with
// real firmware: the LAN's own DHCP server hands out addresses, pixie runs
// beside it in proxy mode, and QEMU machines network-boot from it.
//
//  1. A UEFI machine (OVMF's native PXE client) nobody told pixie about:
//     proxy offer, TFTP of snponly.efi, iPXE, boot script of the default
//     profile, kernel, initrd, and the initrd fetches its Ignition config
//     and prints the config's sha256 on the serial console.
//  2. The same machine, now given the "worker" profile and a hostname with
//     the CLI, boots again and gets the worker config.
//  3. A BIOS machine whose NIC ROM is already iPXE goes straight to HTTP.
//
// Every boot's config must be byte for byte what pixie serves that MAC, and
// pixie's recorded boot events must show each stage in order.
func TestPixieBootsRealFirmware(t *testing.T) {
	if testing.Short() {
		t.Skip("boots three VMs under TCG (about 1-2 minutes): not with -short")
	}
	testnet.RequireVM(t)
	testStart := time.Now()

	p := startPixieLAN(t, pixieOptions{WithOS: true})
	t.Logf("pixie built in %s, serving on %s", build.took.Round(100*time.Millisecond), p.URL())

	st := p.Status(t)
	if st.Interface != testnet.Iface || st.Address != testnet.ServerIP {
		t.Errorf("pixie status: interface %q address %q, want %q %q", st.Interface, st.Address, testnet.Iface, testnet.ServerIP)
	}
	if arches := firmwareArches(st); !slices.Contains(arches, "bios") || !slices.Contains(arches, "efi-x64") {
		t.Errorf("pixie status: firmware found for %v, want bios and efi-x64 among them: %+v", arches, st.Firmware)
	}

	// A broken boot should end in seconds, not at the VM timeout: panic=5
	// reboots, which QEMU's -no-reboot turns into an exit.
	var first api.Profile
	p.CLIJSON(t, &first, "profiles", "show", defaultProfile)
	if first.Kernel != firstTimeKernel || !slices.Equal(first.Initrds, []string{firstTimeInitrd}) || !strings.Contains(first.Args, "{{.IgnitionURL}}") {
		t.Fatalf("default profile is %+v: want kernel %s, initrd %s and ignition.config.url={{.IgnitionURL}} in its args", first, firstTimeKernel, firstTimeInitrd)
	}
	args := p.appendArgs(t, defaultProfile, "panic=5")

	var timings []string
	var firstSHA string

	t.Run("uefi-first-time", func(t *testing.T) {
		res, wall := p.Boot(context.Background(), t, testnet.UEFI, macUEFI, nil)
		t.Logf("UEFI first boot: %s (wall %s)", res, wall.Round(100*time.Millisecond))
		timings = append(timings, fmt.Sprintf("UEFI first boot %.1fs", res.Elapsed.Seconds()))
		got := bootedSHA(t, res)

		// Look at the events before fetching the config ourselves: that
		// fetch is recorded as an ignition event of this MAC too.
		b, ok := p.BootOf(t, macUEFI)
		if !ok {
			t.Errorf("pixie boots does not list %s: %+v", macUEFI, p.Boots(t))
		} else if b.Known || b.Profile != defaultProfile {
			t.Errorf("pixie boots: %s known=%v profile=%q, want known=false profile %q", macUEFI, b.Known, b.Profile, defaultProfile)
		}
		checkTimeline(t, p, macUEFI, 0, uefiStages, nil)

		want := p.Ignition(t, res)
		if got != "" && got != sha256Hex(want) {
			t.Errorf("the UEFI machine fetched a config with sha256 %s; pixie serves %s for %s:\n%s", got, sha256Hex(want), macUEFI, want)
		}
		firstSHA = sha256Hex(want)
	})

	t.Run("uefi-worker", func(t *testing.T) {
		ign := filepath.Join(p.LAN.Dir, "worker.ign")
		if err := os.WriteFile(ign, []byte(workerIgnition), 0o644); err != nil {
			t.Fatal(err)
		}
		p.MustCLI(t, "profiles", "add", "worker", "--kernel", firstTimeKernel, "--initrd", firstTimeInitrd, "--args", args, "--ignition", ign)
		p.MustCLI(t, "machines", "set", macUEFI, "--profile", "worker", "--hostname", "worker-1")
		var m api.Machine
		p.CLIJSON(t, &m, "machines", "show", macUEFI)
		if m.Profile != "worker" || m.Hostname != "worker-1" {
			t.Errorf("pixie machines show %s: %+v, want profile worker, hostname worker-1", macUEFI, m)
		}

		since := p.LastEventID(t, macUEFI)
		res, wall := p.Boot(context.Background(), t, testnet.UEFI, macUEFI, nil)
		t.Logf("UEFI reboot as worker-1: %s (wall %s)", res, wall.Round(100*time.Millisecond))
		timings = append(timings, fmt.Sprintf("UEFI reboot %.1fs", res.Elapsed.Seconds()))
		got := bootedSHA(t, res)

		b, ok := p.BootOf(t, macUEFI)
		if !ok || !b.Known || b.Profile != "worker" || b.Hostname != "worker-1" {
			t.Errorf("pixie boots: %s is %+v (found %v), want known, profile worker, hostname worker-1", macUEFI, b, ok)
		}
		checkTimeline(t, p, macUEFI, since, uefiStages, nil)

		want := p.Ignition(t, res)
		if !bytes.Contains(want, []byte("data:,worker-1")) {
			t.Errorf("pixie serves %s a worker config without its hostname:\n%s", macUEFI, want)
		}
		if got != "" && got != sha256Hex(want) {
			t.Errorf("the worker fetched a config with sha256 %s; pixie serves %s for %s:\n%s", got, sha256Hex(want), macUEFI, want)
		}
		if firstSHA != "" && got == firstSHA {
			t.Errorf("the worker got the first-time config again (sha256 %s)", got)
		}
	})

	t.Run("bios-ipxe-rom", func(t *testing.T) {
		res, wall := p.Boot(context.Background(), t, testnet.BIOS, macBIOS, nil)
		t.Logf("BIOS (iPXE ROM) boot: %s (wall %s)", res, wall.Round(100*time.Millisecond))
		timings = append(timings, fmt.Sprintf("BIOS %.1fs", res.Elapsed.Seconds()))
		got := bootedSHA(t, res)

		b, ok := p.BootOf(t, macBIOS)
		if !ok || b.Known || b.Profile != defaultProfile {
			t.Errorf("pixie boots: %s is %+v (found %v), want known=false profile %q", macBIOS, b, ok, defaultProfile)
		}
		// Already iPXE: pixie's offer names boot.ipxe, no TFTP at all.
		checkTimeline(t, p, macBIOS, 0, []string{"dhcp", "script", "kernel", "initrd", "ignition"}, []string{"tftp"})

		want := p.Ignition(t, res)
		if got != "" && got != sha256Hex(want) {
			t.Errorf("the BIOS machine fetched a config with sha256 %s; pixie serves %s for %s:\n%s", got, sha256Hex(want), macBIOS, want)
		}
		// The config URL carries a per-boot token: without it, another
		// host on the LAN must not get the machine's config.
		if url, _ := res.IgnitionURL(); strings.Contains(url, "token=") {
			bare := p.URL() + "/ignition?mac=" + strings.ReplaceAll(macBIOS, ":", "-")
			if body, err := p.Fetch(p.LAN.ServerNS, bare); err == nil {
				t.Errorf("pixie served %s without a token:\n%s", bare, body)
			}
		}
	})

	// Issue 5's chain: a profile written in Butane, translated and checked
	// by pixie when stored, fetched by the VM with its per-boot token; the
	// same URL with a wrong token, or for another MAC, is refused.
	t.Run("bios-butane-token", func(t *testing.T) {
		bu := filepath.Join(p.LAN.Dir, "node.bu")
		if err := os.WriteFile(bu, []byte(butaneConfig), 0o644); err != nil {
			t.Fatal(err)
		}
		p.MustCLI(t, "profiles", "add", "e2e-butane", "--kernel", firstTimeKernel, "--initrd", firstTimeInitrd, "--args", args, "--butane", bu)
		p.MustCLI(t, "machines", "set", macBIOS, "--profile", "e2e-butane", "--hostname", "vm-butane")

		res, wall := p.Boot(context.Background(), t, testnet.BIOS, macBIOS, nil)
		t.Logf("BIOS boot with a Butane profile: %s (wall %s)", res, wall.Round(100*time.Millisecond))
		timings = append(timings, fmt.Sprintf("BIOS Butane %.1fs", res.Elapsed.Seconds()))
		got := bootedSHA(t, res)

		url, ok := res.IgnitionURL()
		if !ok || !strings.Contains(url, "token=") {
			t.Fatalf("the VM's Ignition URL %q carries no token", url)
		}
		want := p.Ignition(t, res)
		if !bytes.Contains(want, []byte(`"version":"3.`)) || !bytes.Contains(want, []byte("vm-butane")) {
			t.Errorf("pixie did not serve the Butane profile translated to Ignition for %s:\n%s", macBIOS, want)
		}
		if got != "" && got != sha256Hex(want) {
			t.Errorf("the VM fetched a config with sha256 %s; pixie serves %s:\n%s", got, sha256Hex(want), want)
		}
		i := strings.Index(url, "token=") + len("token=")
		wrong := url[:i] + "AAAA" + url[i+4:]
		if body, err := p.Fetch(p.LAN.ServerNS, wrong); err == nil {
			t.Errorf("pixie served %s with a wrong token:\n%s", wrong, body)
		}
		other := strings.Replace(url, strings.ReplaceAll(macBIOS, ":", "-"), strings.ReplaceAll(macUEFI, ":", "-"), 1)
		if body, err := p.Fetch(p.LAN.ServerNS, other); err == nil {
			t.Errorf("pixie served %s, a token of %s used for %s:\n%s", other, macBIOS, macUEFI, body)
		}
		refusals := 0
		for _, e := range p.Timeline(t, macBIOS) {
			if e.Stage == "error" && strings.Contains(e.Detail, "refused") {
				refusals++
			}
		}
		if refusals == 0 {
			t.Errorf("the refused fetches left no error event in %s's timeline", macBIOS)
		}
	})

	t.Logf("e2e: %s; whole test %.1fs", strings.Join(timings, ", "), time.Since(testStart).Seconds())
}

// bootedSHA returns the sha256 the VM's initrd printed for the config it
// fetched, and fails the test (with the console) when there is none.
func bootedSHA(t *testing.T, res *testnet.VMResult) string {
	t.Helper()
	sha, ok := res.IgnitionSHA256()
	if !ok {
		t.Errorf("the VM printed no %s: %s\nserial console (last 60 lines):\n%s\nQEMU: %s",
			testnet.MarkerIgnitionSHA256, res, tail(cleanConsole(res.Log), 60), res.Stderr)
		return ""
	}
	if cmdline, ok := res.KernelCmdline(); ok {
		t.Logf("kernel command line: %s", cmdline)
	}
	return sha
}

// checkTimeline checks mac's events after ID since: the stages in want
// appear in this order, none of the stages in never appears, and there is
// no error event.
func checkTimeline(t *testing.T, p *pixieLAN, mac string, since int64, want, never []string) {
	t.Helper()
	es := p.Timeline(t, mac)
	var mine []api.Event
	for _, e := range es {
		if e.ID > since {
			mine = append(mine, e)
		}
	}
	t.Logf("pixie timeline %s:\n%s", mac, formatEvents(mine))
	got := stagesSince(es, since)
	if !inOrder(got, want) {
		t.Errorf("timeline of %s has stages %v; want %v in this order", mac, got, want)
	}
	for _, s := range never {
		if slices.Contains(got, s) {
			t.Errorf("timeline of %s has a %s event: %v", mac, s, got)
		}
	}
	if errs := errorEvents(es, since); len(errs) > 0 {
		t.Errorf("timeline of %s has error events:\n%s", mac, formatEvents(errs))
	}
}

// TestProxyDHCPOnLAN checks pixie's proxyDHCP and TFTP on the LAN in
// seconds, without QEMU: a scripted PXE client (Go, on the DHCP library's
// packet types) in its own namespace sees both the router's lease offer and
// pixie's proxy offer, asks pixie again on port 4011, and then poses as
// iPXE; an ordinary DHCP client still gets its lease from the router and
// never hears from pixie; busybox's tftp fetches the BIOS firmware and is
// refused a path outside pixie's firmware.
func TestProxyDHCPOnLAN(t *testing.T) {
	testnet.RequireRoot(t)
	testnet.RequireTools(t, "dnsmasq")
	if _, err := testnet.Busybox(); err != nil {
		t.Skip(err)
	}
	p := startPixieLAN(t, pixieOptions{})
	routerID := net.ParseIP(testnet.RouterIP).To4()
	pixieID := net.ParseIP(testnet.ServerIP).To4()

	t.Run("pxe-client", func(t *testing.T) {
		ns, err := p.LAN.AddClient("pxe", "")
		if err != nil {
			t.Fatal(err)
		}
		c := newDHCPClient(t, p.LAN, ns)
		mac := c.mac.String()
		guid := []byte{0, 0x8a, 0x4f, 0x1c, 0x20, 0x51, 0x7e, 0x11, 0xee, 0x9b, 0x22, 0x52, 0x54, 0x00, 0xe2, 0xe0, 0x10}
		pxeBIOS := []dhcpv4.Modifier{
			dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00000:UNDI:002001")),
			dhcpv4.WithGeneric(dhcpv4.OptionClientSystemArchitectureType, []byte{0, 0}),
			dhcpv4.WithGeneric(dhcpv4.OptionClientNetworkInterfaceIdentifier, []byte{1, 2, 1}),
			dhcpv4.WithGeneric(dhcpv4.OptionClientMachineIdentifier, guid),
			dhcpv4.WithRequestedOptions(dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionVendorSpecificInformation,
				dhcpv4.OptionClassIdentifier, dhcpv4.OptionTFTPServerName, dhcpv4.OptionBootfileName),
		}

		// 1. A BIOS PXE ROM's DISCOVER, from 0.0.0.0: two offers.
		replies := c.exchange(t, dhcpv4.MessageTypeDiscover, nil, pxeBIOS, 10*time.Second, routerID, pixieID)
		router, pixie := from(replies, routerID), from(replies, pixieID)
		if router == nil {
			t.Errorf("no offer from the router's DHCP server: %v", summarize(replies))
		} else if router.YourIPAddr.IsUnspecified() {
			t.Errorf("the router offered no address: %s", router.Summary())
		}
		if pixie == nil {
			t.Fatalf("no proxy offer from pixie: %v", summarize(replies))
		}
		checkProxyReply(t, pixie, dhcpv4.MessageTypeOffer, "undionly.kpxe")

		// 2. With the router's address (assigned by hand: this client
		// does not finish the lease), it asks pixie on port 4011.
		if router != nil {
			addr := router.YourIPAddr.String()
			if _, err := p.LAN.Exec(ns, "ip", "addr", "add", addr+"/24", "dev", testnet.Iface); err != nil {
				t.Fatal(err)
			}
			req := append(slices.Clone(pxeBIOS), dhcpv4.WithClientIP(router.YourIPAddr))
			acks := c.exchange(t, dhcpv4.MessageTypeRequest, &net.UDPAddr{IP: pixieID, Port: 4011}, req, 5*time.Second, pixieID)
			ack := from(acks, pixieID)
			if ack == nil {
				t.Errorf("no answer from pixie on port 4011: %v", summarize(acks))
			} else {
				checkProxyReply(t, ack, dhcpv4.MessageTypeAck, "undionly.kpxe")
			}
		}

		// 3. Posing as the iPXE it would have downloaded: pixie breaks
		// the loop and points it at its boot script over HTTP.
		ipxe := append(slices.Clone(pxeBIOS), dhcpv4.WithGeneric(dhcpv4.OptionUserClassInformation, []byte("iPXE")))
		replies = c.exchange(t, dhcpv4.MessageTypeDiscover, nil, ipxe, 10*time.Second, routerID, pixieID)
		if pixie := from(replies, pixieID); pixie == nil {
			t.Errorf("no proxy offer from pixie to iPXE: %v", summarize(replies))
		} else {
			checkProxyReply(t, pixie, dhcpv4.MessageTypeOffer, p.URL()+"/boot.ipxe")
		}

		// 4. An ordinary DHCP client: only the router answers.
		plain := []dhcpv4.Modifier{
			dhcpv4.WithOption(dhcpv4.OptClassIdentifier("udhcp 1.35.0")),
			dhcpv4.WithRequestedOptions(dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter),
		}
		// pixie answers within milliseconds: by the time the router's
		// offer is in, any answer from pixie would be too.
		replies = c.exchange(t, dhcpv4.MessageTypeDiscover, nil, plain, 10*time.Second, routerID)
		if from(replies, routerID) == nil {
			t.Errorf("no offer from the router to a plain DHCP client: %v", summarize(replies))
		}
		if r := from(replies, pixieID); r != nil {
			t.Errorf("pixie answered a plain DHCP client: %s", r.Summary())
		}

		// pixie records each answer after sending it, from one goroutine
		// per port: the 4011 ACK's event can land just after the event of
		// the iPXE DISCOVER this client sent the moment the ACK arrived.
		// So: the firmware's dhcp first, then one pxe and one more dhcp.
		// DHCP events are written in batches a few tens of milliseconds
		// apart, and the router may have answered faster than that.
		var got []string
		count := func(stage string) int {
			n := 0
			for _, s := range got {
				if s == stage {
					n++
				}
			}
			return n
		}
		var es []api.Event
		for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			es = p.Timeline(t, mac)
			got = stagesSince(es, 0)
			if len(got) >= 3 || time.Now().After(deadline) {
				break
			}
		}
		t.Logf("pixie timeline %s:\n%s", mac, formatEvents(es))
		if len(got) == 0 || got[0] != "dhcp" || count("dhcp") != 2 || count("pxe") != 1 {
			t.Errorf("timeline of %s has stages %v; want dhcp (firmware), then pxe (4011) and dhcp (iPXE)", mac, got)
		}
	})

	t.Run("udhcpc-lease", func(t *testing.T) {
		// A real, complete DHCP exchange (DISCOVER, OFFER, REQUEST, ACK)
		// of an ordinary client, with pixie on the LAN.
		ns, err := p.LAN.AddClient("plain", "")
		if err != nil {
			t.Fatal(err)
		}
		out, err := p.LAN.Exec(ns, p.Busybox, "udhcpc", "-i", testnet.Iface, "-f", "-q", "-n", "-t", "5", "-T", "1", "-s", "/bin/true")
		if err != nil {
			t.Fatalf("udhcpc: %v", err)
		}
		if !strings.Contains(out, "lease of 10.77.0.1") || !strings.Contains(out, "obtained from "+testnet.RouterIP) {
			t.Errorf("udhcpc did not get its lease from the router:\n%s", out)
		}
	})

	t.Run("tftp", func(t *testing.T) {
		ns, err := p.LAN.AddClient("tftp", "10.77.0.60/24")
		if err != nil {
			t.Fatal(err)
		}
		want, err := testnet.IPXEFirmware("undionly.kpxe")
		if err != nil {
			t.Fatal(err)
		}
		for _, fw := range p.Status(t).Firmware {
			for _, f := range fw.Files {
				if f.Name == "undionly.kpxe" && f.Source == "embedded" {
					want = "../../assets/firmware/undionly.kpxe"
				}
			}
		}
		wantBytes, err := os.ReadFile(want)
		if err != nil {
			t.Fatal(err)
		}
		got := filepath.Join(p.LAN.Dir, "undionly.kpxe")
		start := time.Now()
		if out, err := p.LAN.Exec(ns, p.Busybox, "tftp", "-g", "-r", "undionly.kpxe", "-l", got, testnet.ServerIP); err != nil {
			t.Fatalf("tftp: %v\n%s", err, out)
		}
		gotBytes, err := os.ReadFile(got)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(gotBytes, wantBytes) {
			t.Errorf("TFTP undionly.kpxe: %d bytes, sha256 %s; want %s: %d bytes, sha256 %s",
				len(gotBytes), sha256Hex(gotBytes), want, len(wantBytes), sha256Hex(wantBytes))
		}
		t.Logf("TFTP undionly.kpxe: %d bytes in %s", len(gotBytes), time.Since(start).Round(time.Millisecond))

		passwd, _ := os.ReadFile("/etc/passwd")
		for i, name := range []string{"../../etc/passwd", "/etc/passwd", "../pixie.db"} {
			local := filepath.Join(p.LAN.Dir, fmt.Sprintf("escape%d", i))
			out, err := p.LAN.Exec(ns, p.Busybox, "tftp", "-g", "-r", name, "-l", local, testnet.ServerIP)
			if err == nil {
				t.Errorf("TFTP %q was served:\n%s", name, out)
			}
			if b, err := os.ReadFile(local); err == nil && len(b) > 0 && (bytes.Equal(b, passwd) || bytes.HasPrefix(b, []byte("SQLite format"))) {
				t.Errorf("TFTP %q returned the file outside the firmware (%d bytes)", name, len(b))
			}
		}
		if err := p.Daemon.WaitLog("TFTP request refused", 5*time.Second); err != nil {
			t.Errorf("pixie did not log the refusal: %v", err)
		}
	})
}

// dhcpClient is a scripted DHCP/PXE client whose socket lives in a client
// namespace of the LAN.
type dhcpClient struct {
	conn *net.UDPConn
	mac  net.HardwareAddr
	xid  byte
}

// newDHCPClient opens 0.0.0.0:68 on the namespace's Iface, as a PXE ROM
// does, and learns the interface's MAC.
func newDHCPClient(t *testing.T, lan *testnet.LAN, ns string) *dhcpClient {
	t.Helper()
	c := &dhcpClient{}
	err := lan.InNamespace(ns, func() error {
		ifc, err := net.InterfaceByName(testnet.Iface)
		if err != nil {
			return err
		}
		c.mac = ifc.HardwareAddr
		c.conn, err = server4.NewIPv4UDPConn(testnet.Iface, &net.UDPAddr{IP: net.IPv4zero, Port: dhcpv4.ClientPort})
		return err
	})
	if err != nil {
		t.Fatalf("DHCP client socket in %s: %v", ns, err)
	}
	t.Cleanup(func() { c.conn.Close() })
	return c
}

// exchange sends one message of type typ (to the broadcast address on
// port 67 when to is nil) and collects every reply with its transaction
// ID until the servers in want (by server identifier) have all answered,
// or wait has passed: the test wants to see every server that answers.
// The router's dnsmasq pings an address before offering it, so its offer
// comes about 3 s after the DISCOVER.
func (c *dhcpClient) exchange(t *testing.T, typ dhcpv4.MessageType, to *net.UDPAddr, mods []dhcpv4.Modifier, wait time.Duration, want ...net.IP) []*dhcpv4.DHCPv4 {
	t.Helper()
	c.xid++
	xid := dhcpv4.TransactionID{0xe2, 0xe0, 0x5e, c.xid}
	msg, err := dhcpv4.New(append([]dhcpv4.Modifier{
		dhcpv4.WithTransactionID(xid),
		dhcpv4.WithHwAddr(c.mac),
		dhcpv4.WithBroadcast(to == nil),
		dhcpv4.WithMessageType(typ),
	}, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	if to == nil {
		to = &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ServerPort}
	}
	if _, err := c.conn.WriteToUDP(msg.ToBytes(), to); err != nil {
		t.Fatalf("send %s to %s: %v", typ, to, err)
	}
	var replies []*dhcpv4.DHCPv4
	deadline := time.Now().Add(wait)
	buf := make([]byte, 4096)
	for {
		if err := c.conn.SetReadDeadline(deadline); err != nil {
			t.Fatal(err)
		}
		n, _, err := c.conn.ReadFromUDP(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return replies
			}
			t.Fatalf("read DHCP reply: %v", err)
		}
		reply, err := dhcpv4.FromBytes(buf[:n])
		if err != nil || reply.TransactionID != xid || reply.OpCode != dhcpv4.OpcodeBootReply {
			continue
		}
		replies = append(replies, reply)
		if slices.IndexFunc(want, func(id net.IP) bool { return from(replies, id) == nil }) < 0 {
			return replies
		}
	}
}

// from returns the reply whose server identifier is id.
func from(replies []*dhcpv4.DHCPv4, id net.IP) *dhcpv4.DHCPv4 {
	for _, r := range replies {
		if r.ServerIdentifier().Equal(id) {
			return r
		}
	}
	return nil
}

func summarize(replies []*dhcpv4.DHCPv4) []string {
	var s []string
	for _, r := range replies {
		s = append(s, fmt.Sprintf("%s from %s yiaddr %s siaddr %s file %q", r.MessageType(), r.ServerIdentifier(), r.YourIPAddr, r.ServerIPAddr, r.BootFileName))
	}
	return s
}

// checkProxyReply checks a proxyDHCP answer: no address, the PXEClient
// class, pixie as next server, and the boot file.
func checkProxyReply(t *testing.T, r *dhcpv4.DHCPv4, typ dhcpv4.MessageType, file string) {
	t.Helper()
	var problems []string
	if r.MessageType() != typ {
		problems = append(problems, fmt.Sprintf("type %s, want %s", r.MessageType(), typ))
	}
	if !r.YourIPAddr.IsUnspecified() {
		problems = append(problems, fmt.Sprintf("yiaddr %s, want 0.0.0.0 (a proxy hands out no address)", r.YourIPAddr))
	}
	if r.ClassIdentifier() != "PXEClient" {
		problems = append(problems, fmt.Sprintf("option 60 %q, want PXEClient", r.ClassIdentifier()))
	}
	if !r.ServerIPAddr.Equal(net.ParseIP(testnet.ServerIP)) {
		problems = append(problems, fmt.Sprintf("siaddr %s, want %s", r.ServerIPAddr, testnet.ServerIP))
	}
	if r.BootFileName != file && r.BootFileNameOption() != file {
		problems = append(problems, fmt.Sprintf("boot file %q (option 67 %q), want %q", r.BootFileName, r.BootFileNameOption(), file))
	}
	if len(problems) > 0 {
		t.Errorf("pixie's %s: %s\n%s", typ, strings.Join(problems, "; "), r.Summary())
	}
}
