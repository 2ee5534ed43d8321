//go:build linux

package dhcp

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/internal/testnet"
)

// startLinkServer runs a server in the LAN's server namespace and returns it
// once Listen has decided how it answers.
func startLinkServer(t *testing.T, lan *testLAN, cfg Config) (*Server, *events.Counters, *recorder) {
	t.Helper()
	rec := &recorder{}
	counters := events.NewCounters()
	cfg.Interface, cfg.ServerIP, cfg.HTTPPort = testnet.Iface, netip.MustParseAddr(testnet.ServerIP), 8080
	srv, err := New(cfg, Deps{Log: testLogger(t), Events: rec, Counters: counters, Firmware: allFirmware})
	if err != nil {
		t.Fatal(err)
	}
	if err := lan.InNamespace(lan.ServerNS, srv.Listen); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
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
	return srv, counters, rec
}

// collect sends req and gathers every reply with its transaction ID for
// about a second and a half: the proxy offer and, when a DHCP server runs,
// its lease offer too.
func collect(t *testing.T, conn *net.UDPConn, to *net.UDPAddr, req []byte, xid dhcpv4.TransactionID, want func([]*dhcpv4.DHCPv4) bool) []*dhcpv4.DHCPv4 {
	t.Helper()
	var got []*dhcpv4.DHCPv4
	buf := make([]byte, 4096)
	for attempt := 0; attempt < 6 && !want(got); attempt++ {
		if _, err := conn.WriteToUDP(req, to); err != nil {
			t.Fatalf("send to %s: %v", to, err)
		}
		conn.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
		for {
			n, _, err := conn.ReadFromUDP(buf)
			if err != nil {
				break
			}
			if r, err := dhcpv4.FromBytes(buf[:n]); err == nil && r.TransactionID == xid {
				got = append(got, r)
			}
		}
	}
	return got
}

func proxyOffer(rs []*dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
	for _, r := range rs {
		if r.ClassIdentifier() == ClassPXE && r.YourIPAddr.IsUnspecified() {
			return r
		}
	}
	return nil
}

func leaseOffer(rs []*dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
	for _, r := range rs {
		if !r.YourIPAddr.IsUnspecified() {
			return r
		}
	}
	return nil
}

// TestLinkLayerBesideDnsmasq: a dnsmasq on pixie's own host holds *:67, as
// the LAN's DHCP server. pixie cannot bind the port, says who holds it,
// answers the PXE client over AF_PACKET beside dnsmasq's lease offer, and
// keeps its UDP socket on 4011.
func TestLinkLayerBesideDnsmasq(t *testing.T) {
	lan := newTestLAN(t)
	dnsmasq, err := lan.StartDHCPHolding67(lan.ServerNS)
	if err != nil {
		t.Fatal(err)
	}
	srv, counters, rec := startLinkServer(t, lan, Config{})
	note := srv.LinkLayer()
	if !strings.Contains(note, "port 67 is held by PID ") || !strings.Contains(note, "(dnsmasq)") {
		t.Errorf("LinkLayer() = %q, want it to name dnsmasq as port 67's holder", note)
	}
	if srv.dhcpSock.link == nil || srv.pxeSock.udp == nil {
		t.Fatalf("sockets: DHCP link=%v, PXE udp=%v; want link layer on 67 and UDP on 4011", srv.dhcpSock.link != nil, srv.pxeSock.udp != nil)
	}
	checkPXEExchange(t, lan, counters, true)

	waitFor(t, "the link-layer server event", func() bool {
		for _, e := range rec.all() {
			if e.Stage == events.StageServer && e.Detail == note {
				return true
			}
		}
		return false
	})
	if out := dnsmasq.Log(); !strings.Contains(out, "DHCPOFFER(eth0)") {
		t.Errorf("dnsmasq did not offer a lease:\n%s", out)
	}
}

// TestLinkLayerAskedFor: with Config.LinkLayer, port 67 goes over the link
// layer although it is free.
func TestLinkLayerAskedFor(t *testing.T) {
	lan := newTestLAN(t)
	srv, counters, _ := startLinkServer(t, lan, Config{LinkLayer: true})
	if note := srv.LinkLayer(); !strings.Contains(note, "port 67 as asked") {
		t.Errorf("LinkLayer() = %q", note)
	}
	if srv.dhcpSock.link == nil {
		t.Fatal("port 67 is not on the link layer")
	}
	checkPXEExchange(t, lan, counters, false)
}

// checkPXEExchange runs a UEFI PXE client's DISCOVER (broadcast reply), a
// REQUEST to pixie on 67 with an address and no broadcast flag (a unicast
// frame to the client's MAC; left to the DHCP server when one beside pixie
// holds the port) and the 4011 REQUEST (UDP).
func checkPXEExchange(t *testing.T, lan *testLAN, counters *events.Counters, withDHCPServer bool) {
	t.Helper()
	client := pxeClientConn(t, lan)
	broadcast := &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ServerPort}
	const guid = "\x00\x8a\x4f\x1c\x20\x51\x7e\x11\xee\x9b\x22\x52\x54\x00\x12\x34\x56"
	pxeOpts := []packet{
		opt(60, "PXEClient:Arch:00007:UNDI:003016"), opt(93, "\x00\x07"), opt(94, "\x01\x03\x10"), opt(97, guid),
	}

	xid := dhcpv4.TransactionID{0x21, 0x01, 0, 1}
	discover := request(dhcpv4.MessageTypeDiscover, append([]packet{func(d *dhcpv4.DHCPv4) {
		d.TransactionID = xid
		d.SetBroadcast()
	}}, pxeOpts...)...)
	replies := collect(t, client, broadcast, discover.ToBytes(), xid, func(rs []*dhcpv4.DHCPv4) bool {
		return proxyOffer(rs) != nil && (!withDHCPServer || leaseOffer(rs) != nil)
	})
	offer := proxyOffer(replies)
	if offer == nil {
		t.Fatalf("no proxy offer from pixie over the link layer (replies: %d)", len(replies))
	}
	wantOffer := &wire{
		Op: dhcpv4.OpcodeBootReply, XID: xid, Broadcast: true,
		CIAddr: "0.0.0.0", YIAddr: "0.0.0.0", SIAddr: "10.77.0.2", GIAddr: "0.0.0.0",
		CHAddr: testMAC.String(), SName: "10.77.0.2", File: FileSNPOnly,
		Options: map[uint8]string{53: "\x02", 54: lanSID, 60: ClassPXE, 43: optVendor43, 97: guid, 67: FileSNPOnly},
	}
	if diff := cmp.Diff(wantOffer, onWire(t, offer)); diff != "" {
		t.Errorf("proxy OFFER (-want +got):\n%s", diff)
	}
	if withDHCPServer {
		if lease := leaseOffer(replies); lease == nil {
			t.Errorf("no lease offer from the DHCP server beside pixie")
		} else if ip := lease.YourIPAddr.To4(); ip[0] != 10 || ip[1] != 77 || ip[3] < 100 || ip[3] > 199 {
			t.Errorf("lease offer of %s, not from the range", lease.YourIPAddr)
		}
	}

	// The client has its address now.
	ipIn(t, lan, lan.client, "addr", "add", "10.77.0.50/24", "dev", testnet.Iface)

	// A REQUEST to pixie on 67 from an address, no broadcast flag: the
	// ACK is a unicast frame to 10.77.0.50:68 at the client's MAC.
	xid = dhcpv4.TransactionID{0x21, 0x01, 0, 2}
	req67 := request(dhcpv4.MessageTypeRequest, append([]packet{func(d *dhcpv4.DHCPv4) { d.TransactionID = xid },
		ciaddr("10.77.0.50"), serverID(net.IPv4(10, 77, 0, 2))}, pxeOpts...)...)
	// (A dnsmasq beside pixie NAKs it: the server identifier is its
	// address too.)
	pixieAck := func(rs []*dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
		for _, r := range rs {
			if r.MessageType() == dhcpv4.MessageTypeAck && r.ClassIdentifier() == ClassPXE {
				return r
			}
		}
		return nil
	}
	if withDHCPServer {
		// The DHCP server beside pixie has the same address: a REQUEST
		// naming it is that server's (OVMF declined its lease when pixie
		// answered one).
		before := counters.Snapshot()["dhcp.ignored.request-for-port-holder"]
		acks := collect(t, client, broadcast, req67.ToBytes(), xid, func([]*dhcpv4.DHCPv4) bool { return false })
		if a := pixieAck(acks); a != nil {
			t.Errorf("pixie answered a REQUEST for the DHCP server beside it: %v", a)
		}
		if got := counters.Snapshot()["dhcp.ignored.request-for-port-holder"]; got <= before {
			t.Errorf("dhcp.ignored.request-for-port-holder did not grow (%d)", got)
		}
	} else {
		acks := collect(t, client, broadcast, req67.ToBytes(), xid, func(rs []*dhcpv4.DHCPv4) bool { return pixieAck(rs) != nil })
		if a := pixieAck(acks); a == nil || a.IsBroadcast() || a.BootFileName != FileSNPOnly {
			t.Fatalf("unicast ACK on 67: got %v", acks)
		}
	}

	xid = dhcpv4.TransactionID{0x21, 0x01, 0, 3}
	pxeRequest := request(dhcpv4.MessageTypeRequest, append([]packet{func(d *dhcpv4.DHCPv4) { d.TransactionID = xid }, ciaddr("10.77.0.50")}, pxeOpts...)...)
	ack, from := exchange(t, client, &net.UDPAddr{IP: net.IPv4(10, 77, 0, 2), Port: DefaultPXEPort}, pxeRequest.ToBytes(), xid)
	if from.String() != "10.77.0.2:4011" || ack.MessageType() != dhcpv4.MessageTypeAck || ack.BootFileName != FileSNPOnly {
		t.Errorf("4011: %s from %s, file %q", ack.MessageType(), from, ack.BootFileName)
	}

	// Counted just after the send: the client may have the reply first.
	waitFor(t, "the sent counters", func() bool {
		c := counters.Snapshot()
		return c["dhcp.sent.dhcp-offer"] >= 1 && (withDHCPServer || c["dhcp.sent.dhcp-ack"] >= 1) && c["dhcp.sent.pxe-ack"] >= 1
	})
	for name, v := range counters.Snapshot() {
		if strings.HasPrefix(name, "dhcp.dropped.frame-") || name == "dhcp.send-failed" {
			t.Errorf("counter %s = %d", name, v)
		}
	}
}
