package dhcp

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/pixie-boot/pixie/daemon/events"
)

// recorder is an EventRecorder that keeps what it is given.
type recorder struct {
	mu     sync.Mutex
	events []events.Event
}

func (r *recorder) Record(_ context.Context, e events.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) all() []events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]events.Event(nil), r.events...)
}

// seenLog records Deps.Seen calls.
type seenLog struct {
	mu   sync.Mutex
	seen map[string]string
}

func (s *seenLog) add(mac net.HardwareAddr, ip net.IP) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]string{}
	}
	s.seen[mac.String()] = ip.String()
}

func (s *seenLog) get(mac net.HardwareAddr) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[mac.String()]
}

// testLogger sends the server's log to the test log, at debug level, so a
// failing test shows what the server saw.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// freePort returns a UDP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// waitFor polls cond for up to two seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// exchange sends req to addr from conn and returns the first reply with the
// same transaction ID. It resends a few times (the server may still be
// starting), like a DHCP client does, and gives up after about two seconds.
func exchange(t *testing.T, conn *net.UDPConn, addr *net.UDPAddr, req []byte, xid dhcpv4.TransactionID) (*dhcpv4.DHCPv4, *net.UDPAddr) {
	t.Helper()
	buf := make([]byte, 4096)
	for attempt := 0; attempt < 8; attempt++ {
		if _, err := conn.WriteToUDP(req, addr); err != nil {
			t.Fatalf("send to %s: %v", addr, err)
		}
		conn.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				break // timeout: send again
			}
			reply, err := dhcpv4.FromBytes(buf[:n])
			if err == nil && reply.TransactionID == xid {
				return reply, from
			}
		}
	}
	t.Fatalf("no reply from %s", addr)
	return nil, nil
}

// expectSilence fails if anything arrives on conn within d.
func expectSilence(t *testing.T, conn *net.UDPConn, d time.Duration) {
	t.Helper()
	buf := make([]byte, 4096)
	conn.SetReadDeadline(time.Now().Add(d))
	if n, from, err := conn.ReadFromUDP(buf); err == nil {
		t.Fatalf("unexpected %d-byte packet from %s", n, from)
	}
}

func TestServerLoopback(t *testing.T) {
	dhcpPort, pxePort := freePort(t), freePort(t)
	rec := &recorder{}
	seen := &seenLog{}
	counters := events.NewCounters()
	var paused atomic.Bool
	srv, err := New(Config{
		ListenAddr: netip.MustParseAddr("127.0.0.1"),
		ServerIP:   netip.MustParseAddr("127.0.0.1"),
		HTTPPort:   8080,
		DHCPPort:   dhcpPort,
		PXEPort:    pxePort,
		ClientPort: freePort(t),
	}, Deps{
		Log:      testLogger(t),
		Events:   rec,
		Counters: counters,
		Paused:   paused.Load,
		Firmware: allFirmware,
		Seen:     seen.add,
	})
	if err != nil {
		t.Fatal(err)
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

	client, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	pxeAddr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: pxePort}
	count := func(name string) uint64 { return counters.Snapshot()[name] }

	// A UEFI client asking again on the PXE port, from the address the
	// LAN's DHCP server gave it.
	xid := dhcpv4.TransactionID{1, 2, 3, 4}
	req := request(dhcpv4.MessageTypeRequest, pxe(7), ciaddr("127.0.0.1"), func(d *dhcpv4.DHCPv4) { d.TransactionID = xid })
	reply, from := exchange(t, client, pxeAddr, req.ToBytes(), xid)
	if from.Port != pxePort {
		t.Errorf("reply came from port %d, want the PXE port %d", from.Port, pxePort)
	}
	got := onWire(t, reply)
	want := &wire{
		Op: dhcpv4.OpcodeBootReply, XID: xid, CIAddr: "127.0.0.1", YIAddr: "0.0.0.0",
		SIAddr: "127.0.0.1", GIAddr: "0.0.0.0", CHAddr: testMAC.String(),
		SName: "127.0.0.1", File: FileSNPOnly,
		Options: map[uint8]string{
			53: "\x05", 54: "\x7f\x00\x00\x01", 60: ClassPXE, 43: optVendor43, 97: testGUID, 67: FileSNPOnly,
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ACK (-want +got):\n%s", diff)
	}
	waitFor(t, "the boot event", func() bool { return len(rec.all()) >= 1 })
	wantEvent := events.Event{MAC: "52:54:00:12:34:56", IP: "127.0.0.1", Arch: "efi-x64", Stage: events.StagePXE, Detail: "ack snponly.efi (loader auto)"}
	if diff := cmp.Diff(wantEvent, rec.all()[0]); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}
	if got := seen.get(testMAC); got != "127.0.0.1" {
		t.Errorf("Seen got IP %q, want 127.0.0.1", got)
	}

	// Packets on one port are handled in order, so once the reply to a
	// later valid request is back, the earlier junk has been dealt with.
	flush := func() {
		t.Helper()
		xid := dhcpv4.TransactionID{9, 9, 9, 9}
		req := request(dhcpv4.MessageTypeRequest, pxe(0), ciaddr("127.0.0.1"), func(d *dhcpv4.DHCPv4) { d.TransactionID = xid })
		exchange(t, client, pxeAddr, req.ToBytes(), xid)
	}

	// Malformed packets are counted and dropped.
	client.WriteToUDP([]byte("definitely not DHCP"), pxeAddr)
	truncated := req.ToBytes()[:200]
	client.WriteToUDP(truncated, pxeAddr)
	flush()
	if n := count("dhcp.dropped.malformed"); n != 2 {
		t.Errorf("dhcp.dropped.malformed = %d, want 2", n)
	}

	// A client that is not PXE gets no answer.
	plain := request(dhcpv4.MessageTypeRequest, ciaddr("127.0.0.1"), opt(60, "udhcp 1.36.1"))
	client.WriteToUDP(plain.ToBytes(), pxeAddr)
	flush()
	if n := count("dhcp.ignored.not-pxe"); n != 1 {
		t.Errorf("dhcp.ignored.not-pxe = %d, want 1", n)
	}

	// Paused: boot requests are ignored, with their own reason.
	paused.Store(true)
	pausedXID := dhcpv4.TransactionID{7, 7, 7, 7}
	client.WriteToUDP(request(dhcpv4.MessageTypeRequest, pxe(7), ciaddr("127.0.0.1"), func(d *dhcpv4.DHCPv4) { d.TransactionID = pausedXID }).ToBytes(), pxeAddr)
	waitFor(t, "the paused request to be ignored", func() bool { return count("dhcp.ignored.paused") == 1 })
	expectSilence(t, client, 100*time.Millisecond)
	paused.Store(false)

	// Without an interface the server must not broadcast: a DISCOVER on
	// the DHCP port is decided but its broadcast reply is refused.
	discover := request(dhcpv4.MessageTypeDiscover, pxe(0))
	client.WriteToUDP(discover.ToBytes(), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: dhcpPort})
	waitFor(t, "the broadcast to be refused", func() bool { return count("dhcp.send-failed") == 1 })

	// A slow machine may make the client resend, so the counts of what was
	// received and answered are lower bounds.
	snap := counters.Snapshot()
	if snap["dhcp.received"] < 7 || snap["dhcp.sent.pxe-ack"] < 3 {
		t.Errorf("received %d, sent %d packets; want at least 7 and 3", snap["dhcp.received"], snap["dhcp.sent.pxe-ack"])
	}
	delete(snap, "dhcp.received")
	delete(snap, "dhcp.sent.pxe-ack")
	wantCounters := map[string]uint64{
		"dhcp.dropped.malformed": 2,
		"dhcp.ignored.not-pxe":   1,
		"dhcp.ignored.paused":    1,
		"dhcp.send-failed":       1,
	}
	if diff := cmp.Diff(wantCounters, snap); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
}

func TestServerStopsOnCancel(t *testing.T) {
	srv, err := New(Config{
		ListenAddr: netip.MustParseAddr("127.0.0.1"),
		ServerIP:   netip.MustParseAddr("127.0.0.1"),
		HTTPPort:   80,
		DHCPPort:   freePort(t),
		PXEPort:    freePort(t),
	}, Deps{Firmware: allFirmware})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve returned %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not stop")
	}
}

func TestServeReportsListenError(t *testing.T) {
	srv, err := New(Config{
		ListenAddr: netip.MustParseAddr("127.0.0.1"),
		ServerIP:   netip.MustParseAddr("127.0.0.1"),
		HTTPPort:   80,
		Interface:  "pxd-no-such-if",
		DHCPPort:   freePort(t),
		PXEPort:    freePort(t),
	}, Deps{Firmware: allFirmware})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Serve(ctx); err == nil || ctx.Err() != nil {
		t.Fatalf("Serve on a missing interface: err = %v, want a listen error", err)
	}
}

func TestNewRejects(t *testing.T) {
	good := Config{Interface: "eth0", ServerIP: netip.MustParseAddr("10.78.0.2"), HTTPPort: 8080}
	tests := []struct {
		name string
		cfg  func(*Config)
		deps Deps
	}{
		{"no server IP", func(c *Config) { c.ServerIP = netip.Addr{} }, Deps{Firmware: allFirmware}},
		{"IPv6 server IP", func(c *Config) { c.ServerIP = netip.MustParseAddr("fd00::2") }, Deps{Firmware: allFirmware}},
		{"unspecified server IP", func(c *Config) { c.ServerIP = netip.IPv4Unspecified() }, Deps{Firmware: allFirmware}},
		{"no HTTP port", func(c *Config) { c.HTTPPort = 0 }, Deps{Firmware: allFirmware}},
		{"unknown EFI file", func(c *Config) { c.EFIFile = "grubx64.efi" }, Deps{Firmware: allFirmware}},
		{"no interface on a real address", func(c *Config) { c.Interface = "" }, Deps{Firmware: allFirmware}},
		{"bad port", func(c *Config) { c.PXEPort = 70000 }, Deps{Firmware: allFirmware}},
		{"no firmware", nil, Deps{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			if _, err := New(cfg, tt.deps); err == nil {
				t.Errorf("New accepted %+v", cfg)
			}
		})
	}
	if _, err := New(good, Deps{Firmware: allFirmware}); err != nil {
		t.Errorf("New(good) = %v", err)
	}
}
