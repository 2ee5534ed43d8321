//go:build linux

package dhcp

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"

	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/internal/testnet"
)

// The namespace test runs the server in the server namespace of a
// throw-away testnet LAN and a scripted PXE client in another namespace on
// the same bridge, so real ports 67, 68 and 4011 and real broadcasts are
// used without a single packet reaching the host's networks.

// testLAN is a testnet LAN plus the client's namespace.
type testLAN struct {
	*testnet.LAN
	client string
}

// lanSID is option 54 as the server's address in the LAN is written.
const lanSID = "\x0a\x4d\x00\x02" // testnet.ServerIP, 10.77.0.2

func newTestLAN(t *testing.T) *testLAN {
	t.Helper()
	testnet.RequireRoot(t)
	lan := &testLAN{LAN: testnet.NewLAN(t, testnet.Options{Prefix: "pxd"})}
	var err error
	if lan.client, err = lan.AddClient("client", ""); err != nil {
		t.Fatal(err)
	}
	return lan
}

func ipIn(t *testing.T, lan *testLAN, ns string, args ...string) {
	t.Helper()
	if out, err := lan.Exec(ns, "ip", args...); err != nil {
		t.Fatalf("ip %s in %s: %v: %s", strings.Join(args, " "), ns, err, out)
	}
}

// pxeClientConn opens the client's DHCP socket in the client namespace:
// 0.0.0.0:68, bound to the veth, allowed to broadcast.
func pxeClientConn(t *testing.T, lan *testLAN) *net.UDPConn {
	t.Helper()
	var conn *net.UDPConn
	err := lan.InNamespace(lan.client, func() error {
		var err error
		conn, err = server4.NewIPv4UDPConn(testnet.Iface, &net.UDPAddr{IP: net.IPv4zero, Port: dhcpv4.ClientPort})
		return err
	})
	if err != nil {
		t.Fatalf("client socket: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestProxyInNamespace(t *testing.T) {
	lan := newTestLAN(t)
	rec := &recorder{}
	seen := &seenLog{}
	counters := events.NewCounters()
	srv, err := New(Config{
		Interface: testnet.Iface,
		ServerIP:  netip.MustParseAddr("10.77.0.2"),
		HTTPPort:  8080,
	}, Deps{
		Log:      testLogger(t),
		Events:   rec,
		Counters: counters,
		Firmware: allFirmware,
		Seen:     seen.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- lan.InNamespace(lan.ServerNS, func() error { return srv.Serve(ctx) }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Serve did not return after cancel")
		}
	})

	client := pxeClientConn(t, lan)
	broadcast := &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ServerPort}
	count := func(name string) uint64 { return counters.Snapshot()[name] }
	const guid = "\x00\x8a\x4f\x1c\x20\x51\x7e\x11\xee\x9b\x22\x52\x54\x00\x12\x34\x56"

	// 1. UEFI firmware (OVMF's vendor class) broadcasts a DISCOVER from
	// 0.0.0.0: it has no address yet.
	xid := dhcpv4.TransactionID{0x10, 0x78, 0, 1}
	discover := request(dhcpv4.MessageTypeDiscover, func(d *dhcpv4.DHCPv4) {
		d.TransactionID = xid
		d.SetBroadcast()
	},
		opt(60, "PXEClient:Arch:00007:UNDI:003016"),
		opt(93, "\x00\x07"),
		opt(94, "\x01\x03\x10"),
		opt(97, guid),
		opt(55, "\x01\x02\x03\x04\x05\x06\x0c\x0d\x0f\x11\x12\x16\x17\x1c\x28\x29\x2a\x2b\x32\x33\x36\x3a\x3b\x3c\x42\x43\x61\x80\x81\x82\x83\x84\x85\x86\x87"),
	)
	offer, from := exchange(t, client, broadcast, discover.ToBytes(), xid)
	if got := from.String(); got != "10.77.0.2:67" {
		t.Errorf("offer came from %s, want 10.77.0.2:67", got)
	}
	wantOffer := &wire{
		Op: dhcpv4.OpcodeBootReply, XID: xid, Broadcast: true,
		CIAddr: "0.0.0.0", YIAddr: "0.0.0.0", SIAddr: "10.77.0.2", GIAddr: "0.0.0.0",
		CHAddr: testMAC.String(), SName: "10.77.0.2", File: FileSNPOnly,
		Options: map[uint8]string{
			53: "\x02", 54: lanSID, 60: ClassPXE, 43: optVendor43, 97: guid, 67: FileSNPOnly,
		},
	}
	if diff := cmp.Diff(wantOffer, onWire(t, offer)); diff != "" {
		t.Errorf("OFFER (-want +got):\n%s", diff)
	}

	// 2. The LAN's DHCP server (not simulated) gave it 10.77.0.50; it asks
	// pixie again on port 4011, unicast, as EDK2 does for a BINL offer.
	ipIn(t, lan, lan.client, "addr", "add", "10.77.0.50/24", "dev", testnet.Iface)
	xid = dhcpv4.TransactionID{0x10, 0x78, 0, 2}
	pxeRequest := request(dhcpv4.MessageTypeRequest, func(d *dhcpv4.DHCPv4) { d.TransactionID = xid },
		ciaddr("10.77.0.50"),
		opt(60, "PXEClient:Arch:00007:UNDI:003016"),
		opt(93, "\x00\x07"),
		opt(94, "\x01\x03\x10"),
		opt(97, guid),
	)
	ack, from := exchange(t, client, &net.UDPAddr{IP: net.IPv4(10, 77, 0, 2), Port: DefaultPXEPort}, pxeRequest.ToBytes(), xid)
	if got := from.String(); got != "10.77.0.2:4011" {
		t.Errorf("ACK came from %s, want 10.77.0.2:4011", got)
	}
	wantAck := &wire{
		Op: dhcpv4.OpcodeBootReply, XID: xid,
		CIAddr: "10.77.0.50", YIAddr: "0.0.0.0", SIAddr: "10.77.0.2", GIAddr: "0.0.0.0",
		CHAddr: testMAC.String(), SName: "10.77.0.2", File: FileSNPOnly,
		Options: map[uint8]string{
			53: "\x05", 54: lanSID, 60: ClassPXE, 43: optVendor43, 97: guid, 67: FileSNPOnly,
		},
	}
	if diff := cmp.Diff(wantAck, onWire(t, ack)); diff != "" {
		t.Errorf("ACK (-want +got):\n%s", diff)
	}
	if got := seen.get(testMAC); got != "10.77.0.50" {
		t.Errorf("Seen got %q for %s, want 10.77.0.50", got, testMAC)
	}

	// 3. The downloaded iPXE DHCPs again: it gets the script, not firmware.
	ipxeMAC := net.HardwareAddr{0x52, 0x54, 0x00, 0xab, 0xcd, 0xef}
	xid = dhcpv4.TransactionID{0x10, 0x78, 0, 3}
	ipxeDiscover := request(dhcpv4.MessageTypeDiscover, func(d *dhcpv4.DHCPv4) {
		d.TransactionID = xid
		d.ClientHWAddr = ipxeMAC
	},
		opt(60, "PXEClient:Arch:00000:UNDI:002001"),
		opt(93, "\x00\x00"),
		opt(77, "iPXE"),
		opt(175, "\xb1\x05\x01\x1a\xf4\x10\x00"),
	)
	ipxeOffer, _ := exchange(t, client, broadcast, ipxeDiscover.ToBytes(), xid)
	if got, want := ipxeOffer.BootFileName, "http://10.77.0.2:8080/boot.ipxe"; got != want {
		t.Errorf("iPXE offer boot file = %q, want %q", got, want)
	}
	if !ipxeOffer.YourIPAddr.IsUnspecified() || ipxeOffer.MessageType() != dhcpv4.MessageTypeOffer {
		t.Errorf("iPXE offer: type %s, yiaddr %s", ipxeOffer.MessageType(), ipxeOffer.YourIPAddr)
	}

	// 4. An ordinary DHCP client is never answered.
	before := count("dhcp.ignored.not-pxe")
	plain := request(dhcpv4.MessageTypeDiscover, func(d *dhcpv4.DHCPv4) {
		d.TransactionID = dhcpv4.TransactionID{0x10, 0x78, 0, 4}
		d.ClientHWAddr = net.HardwareAddr{0x52, 0x54, 0x00, 0x99, 0x99, 0x99}
		d.SetBroadcast()
	}, opt(60, "udhcp 1.36.1"), opt(55, "\x01\x03\x06"))
	if _, err := client.WriteToUDP(plain.ToBytes(), broadcast); err != nil {
		t.Fatal(err)
	}
	expectSilence(t, client, time.Second)
	waitFor(t, "the non-PXE DISCOVER to be counted", func() bool { return count("dhcp.ignored.not-pxe") == before+1 })

	ignore := cmpopts.IgnoreFields(events.Event{}, "ID", "Time")
	wantEvents := []events.Event{
		{MAC: "52:54:00:12:34:56", Arch: "efi-x64", Stage: events.StageDHCP, Detail: "offer snponly.efi (loader auto)"},
		{MAC: "52:54:00:12:34:56", IP: "10.77.0.50", Arch: "efi-x64", Stage: events.StagePXE, Detail: "ack snponly.efi (loader auto)"},
		{MAC: "52:54:00:ab:cd:ef", Arch: "bios", Stage: events.StageDHCP, Detail: "offer http://10.77.0.2:8080/boot.ipxe (iPXE)"},
	}
	if diff := cmp.Diff(wantEvents, rec.all(), ignore); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}

	// 5. busybox's udhcpc, posing as a BIOS PXE ROM, as a second client
	// implementation. It is not a real PXE client: it takes the proxy
	// offer as a lease offer, so only the OFFER is checked.
	t.Run("udhcpc", func(t *testing.T) {
		busybox, err := exec.LookPath("busybox")
		if err != nil {
			t.Skip("skipping: busybox is not installed")
		}
		before := count("dhcp.sent.dhcp-offer")
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		out, err := lan.CommandContext(ctx, lan.client,
			busybox, "udhcpc", "-f", "-i", testnet.Iface, "-V", "PXEClient:Arch:00000:UNDI:002001",
			"-x", "0x5d:0000", "-q", "-n", "-t", "2", "-T", "1", "-A", "1", "-s", "/bin/true").CombinedOutput()
		t.Logf("udhcpc (err %v):\n%s", err, out)
		if count("dhcp.sent.dhcp-offer") <= before {
			t.Errorf("pixie sent no OFFER to udhcpc")
		}
		var offered bool
		for _, e := range rec.all() {
			offered = offered || e.Arch == "bios" && e.Stage == events.StageDHCP && e.Detail == "offer undionly.kpxe"
		}
		if !offered {
			t.Errorf("no event of a BIOS offer of undionly.kpxe in %+v", rec.all())
		}
	})
}
