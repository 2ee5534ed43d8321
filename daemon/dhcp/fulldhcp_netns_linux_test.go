//go:build linux

package dhcp

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/internal/testnet"
)

// memLeases is a LeaseStore in memory: what the daemon's SQLite adapter
// would have written.
type memLeases struct {
	mu sync.Mutex
	m  map[netip.Addr]Lease
}

func (s *memLeases) SaveLease(_ context.Context, l Lease) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[netip.Addr]Lease{}
	}
	s.m[l.IP] = l
	return nil
}

func (s *memLeases) all() []Lease {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Lease
	for _, l := range s.m {
		out = append(out, l)
	}
	return out
}

// startFull serves full-DHCP mode in the LAN's server namespace (no router
// DHCP on the LAN) until the test ends or stop is called.
func startFull(t *testing.T, lan *testLAN, full *FullMode, rec *recorder, counters *events.Counters) (stop func()) {
	t.Helper()
	srv, err := New(Config{Interface: testnet.Iface, ServerIP: netip.MustParseAddr(testnet.ServerIP), HTTPPort: 8080},
		Deps{Log: testLogger(t), Events: rec, Counters: counters, Firmware: allFirmware, Full: full})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- lan.InNamespace(lan.ServerNS, func() error { return srv.Serve(ctx) }) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
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
	}
	t.Cleanup(stop)
	return stop
}

func TestFullDHCPInNamespace(t *testing.T) {
	lan := newTestLAN(t)
	pool, err := DefaultPool(netip.MustParsePrefix(testnet.ServerIP + "/24"))
	if err != nil {
		t.Fatal(err)
	}
	store := &memLeases{}
	rec := &recorder{}
	counters := events.NewCounters()
	stop := startFull(t, lan, NewFullMode(pool, nil, nil, FullOptions{LeaseTime: time.Hour}, store), rec, counters)

	client := pxeClientConn(t, lan)
	broadcast := &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ServerPort}
	pixie := net.ParseIP(testnet.ServerIP).To4()
	xid := func(n byte) packet {
		return func(d *dhcpv4.DHCPv4) { d.TransactionID = dhcpv4.TransactionID{0x12, 0, 0, n}; d.SetBroadcast() }
	}

	// 1. A BIOS PXE ROM on a LAN with no other DHCP server: one offer
	// carries its address and its boot file, with pixie as next server.
	offer, from := exchange(t, client, broadcast, request(dhcpv4.MessageTypeDiscover, xid(1), pxe(0)).ToBytes(), dhcpv4.TransactionID{0x12, 0, 0, 1})
	if from.IP.String() != testnet.ServerIP || offer.MessageType() != dhcpv4.MessageTypeOffer {
		t.Fatalf("offer %v from %v", offer.MessageType(), from)
	}
	ip := offer.YourIPAddr.String()
	if ip != "10.77.0.128" || !offer.ServerIPAddr.Equal(pixie) || offer.BootFileName != FileBIOS || offer.IPAddressLeaseTime(0) != time.Hour {
		t.Fatalf("offer: yiaddr %s siaddr %s file %q lease %v", ip, offer.ServerIPAddr, offer.BootFileName, offer.IPAddressLeaseTime(0))
	}

	// 2. Selecting: REQUEST naming pixie -> ACK, and the lease is stored.
	ack, _ := exchange(t, client, broadcast, request(dhcpv4.MessageTypeRequest, xid(2), pxe(0), serverID(pixie), requestIP(ip)).ToBytes(), dhcpv4.TransactionID{0x12, 0, 0, 2})
	if ack.MessageType() != dhcpv4.MessageTypeAck || ack.YourIPAddr.String() != ip {
		t.Fatalf("ack %v yiaddr %v", ack.MessageType(), ack.YourIPAddr)
	}
	if ls := store.all(); len(ls) != 1 || ls[0].MAC != testMACStr || ls[0].State != LeaseBound {
		t.Fatalf("stored leases %+v", ls)
	}

	// 3. Rebinding (ciaddr, broadcast): ACK again.
	ack, _ = exchange(t, client, broadcast, request(dhcpv4.MessageTypeRequest, xid(3), ciaddr(ip)).ToBytes(), dhcpv4.TransactionID{0x12, 0, 0, 3})
	if ack.MessageType() != dhcpv4.MessageTypeAck || ack.YourIPAddr.String() != ip {
		t.Fatalf("rebinding: %v %v", ack.MessageType(), ack.YourIPAddr)
	}

	// 4. Init-reboot asking for someone else's address: NAK.
	other := func(d *dhcpv4.DHCPv4) { d.ClientHWAddr = net.HardwareAddr{0x52, 0x54, 0, 0, 0, 0x77} }
	nak, _ := exchange(t, client, broadcast, request(dhcpv4.MessageTypeRequest, xid(4), other, requestIP(ip)).ToBytes(), dhcpv4.TransactionID{0x12, 0, 0, 4})
	if nak.MessageType() != dhcpv4.MessageTypeNak || !strings.Contains(nak.Message(), "leased to another") {
		t.Fatalf("init-reboot for a taken address: %v %q", nak.MessageType(), nak.Message())
	}

	// 5. A restart: the same MAC is offered the same address.
	stop()
	full := NewFullMode(pool, store.all(), nil, FullOptions{LeaseTime: time.Hour}, store)
	startFull(t, lan, full, rec, counters)
	again, _ := exchange(t, client, broadcast, request(dhcpv4.MessageTypeDiscover, xid(5)).ToBytes(), dhcpv4.TransactionID{0x12, 0, 0, 5})
	if again == nil || again.YourIPAddr.String() != ip {
		t.Fatalf("after a restart: offer %v, want %s again", again, ip)
	}

	// 6. RELEASE: no reply, the stored lease is released.
	if _, err := client.WriteToUDP(request(dhcpv4.MessageTypeRelease, xid(6), serverID(pixie), ciaddr(ip)).ToBytes(), broadcast); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the release to be stored", func() bool {
		ls := store.all()
		return len(ls) == 1 && ls[0].State == LeaseReleased
	})

	// 7. A real DHCP client: busybox udhcpc gets an address from the pool
	// and configures it.
	t.Run("udhcpc", func(t *testing.T) {
		busybox, err := exec.LookPath("busybox")
		if err != nil {
			t.Skip("skipping: busybox is not installed")
		}
		dir := t.TempDir()
		script := filepath.Join(dir, "script")
		got := filepath.Join(dir, "lease")
		if err := os.WriteFile(script, []byte("#!/bin/sh\n[ \"$1\" = bound ] && echo \"$ip $subnet $lease $siaddr\" > "+got+"\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		out, err := lan.CommandContext(ctx, lan.client, busybox, "udhcpc", "-f", "-q", "-n", "-i", testnet.Iface,
			"-t", "4", "-T", "2", "-s", script).CombinedOutput()
		if err != nil {
			t.Fatalf("udhcpc: %v\n%s", err, out)
		}
		b, err := os.ReadFile(got)
		if err != nil {
			t.Fatalf("udhcpc bound no lease: %v\n%s", err, out)
		}
		f := strings.Fields(string(b))
		if len(f) != 4 || !pool.Contains(netip.MustParseAddr(f[0])) || f[1] != "255.255.255.0" || f[2] != "3600" || f[3] != testnet.ServerIP {
			t.Fatalf("udhcpc's lease %q: want an address of %s, mask /24, 3600 s, siaddr pixie", b, pool)
		}
		t.Logf("udhcpc bound %s", f[0])
	})
}

// TestFullDHCPProbeInNamespace: a host on the link already uses the first
// pool address (set by hand, no DHCP). pixie's ARP probe finds it, sets
// the address aside and offers the next one instead.
func TestFullDHCPProbeInNamespace(t *testing.T) {
	lan := newTestLAN(t)
	if _, err := lan.AddClient("squat", "10.77.0.128/24"); err != nil {
		t.Fatal(err)
	}
	pool, err := DefaultPool(netip.MustParsePrefix(testnet.ServerIP + "/24"))
	if err != nil {
		t.Fatal(err)
	}
	store := &memLeases{}
	counters := events.NewCounters()
	startFull(t, lan, NewFullMode(pool, nil, nil, FullOptions{}, store), &recorder{}, counters)
	client := pxeClientConn(t, lan)
	broadcast := &net.UDPAddr{IP: net.IPv4bcast, Port: dhcpv4.ServerPort}
	xid := dhcpv4.TransactionID{0x13, 0, 0, 1}
	// exchange retransmits like a client: the first DISCOVER finds .128
	// in use, a later one is offered .129.
	offer, _ := exchange(t, client, broadcast, request(dhcpv4.MessageTypeDiscover, func(d *dhcpv4.DHCPv4) { d.TransactionID = xid; d.SetBroadcast() }).ToBytes(), xid)
	if got := offer.YourIPAddr.String(); got != "10.77.0.129" {
		t.Fatalf("offered %s, want 10.77.0.129 (10.77.0.128 is taken)", got)
	}
	if counters.Snapshot()["dhcp.full.probe-answered"] != 1 {
		t.Errorf("counters %v: want one answered probe", counters.Snapshot())
	}
	held := false
	for _, l := range store.all() {
		held = held || l.IP.String() == "10.77.0.128" && l.State == LeaseHeld
	}
	if !held {
		t.Errorf("10.77.0.128 was not set aside: %+v", store.all())
	}
}
