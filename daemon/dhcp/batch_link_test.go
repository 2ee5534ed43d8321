package dhcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/insomniacslk/dhcp/dhcpv4"
	"golang.org/x/net/ipv4"

	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/linklayer"
)

var pixieMAC = net.HardwareAddr{0x52, 0x54, 0x00, 0x00, 0x00, 0x02}

// fakeLink is a linkSocket: it hands out queued frames and keeps what is
// written.
type fakeLink struct {
	mu      sync.Mutex
	in      []linklayer.RawFrame
	written [][]byte
	err     error // returned by Write
}

func (f *fakeLink) Read(frames []linklayer.RawFrame) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.in) == 0 {
		return 0, fmt.Errorf("fake: %w", net.ErrClosed)
	}
	n := 0
	for n < len(frames) && len(f.in) > 0 {
		in := f.in[0]
		f.in = f.in[1:]
		frames[n].N = copy(frames[n].Buf, in.Buf[:in.N])
		frames[n].Truncated, frames[n].VLAN, frames[n].ChecksumPending = in.Truncated, in.VLAN, in.ChecksumPending
		n++
	}
	return n, nil
}

func (f *fakeLink) Write(frame []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.written = append(f.written, append([]byte(nil), frame...))
	return nil
}

func (f *fakeLink) HardwareAddr() net.HardwareAddr { return pixieMAC }
func (f *fakeLink) Close() error                   { return nil }

func (f *fakeLink) sent() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.written
}

func clientFrame(t *testing.T, src string, payload []byte) []byte {
	t.Helper()
	f, err := linklayer.Append(nil, linklayer.Header{SrcMAC: testMAC, DstMAC: linklayer.BroadcastMAC,
		Src: netip.MustParseAddrPort(src), Dst: netip.MustParseAddrPort("255.255.255.255:67")}, payload)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestLinkConnRead(t *testing.T) {
	discover := request(dhcpv4.MessageTypeDiscover, pxe(7)).ToBytes()
	good := clientFrame(t, "0.0.0.0:68", discover)
	badSum := append([]byte(nil), good...)
	badSum[40] ^= 0xff
	fake := &fakeLink{in: []linklayer.RawFrame{
		{Buf: good, N: len(good)},
		{Buf: good, N: len(good), VLAN: true},
		{Buf: badSum, N: len(badSum)},
		{Buf: badSum, N: len(badSum), ChecksumPending: true},
		{Buf: good, N: len(good), Truncated: true},
		{Buf: good[:20], N: 20},
	}}
	c := newLinkConn(fake, netip.MustParseAddrPort("10.0.0.2:67"))
	pkts := newDatagrams(8)
	n, err := c.read(pkts)
	if err != nil || n != 6 {
		t.Fatalf("read: %d, %v", n, err)
	}
	type got struct {
		Drop, Src, MAC string
		Payload        bool
	}
	var gots []got
	for _, p := range pkts[:n] {
		g := got{Drop: p.drop, MAC: net.HardwareAddr(p.hw).String()}
		if p.src != nil {
			g.Src = p.src.String()
		}
		g.Payload = p.drop == "" && string(p.buf[:p.n]) == string(discover)
		gots = append(gots, g)
	}
	mac := testMAC.String()
	want := []got{
		{Src: "0.0.0.0:68", MAC: mac, Payload: true},
		{Drop: "dhcp.dropped.frame-vlan-tagged", MAC: mac},
		{Drop: "dhcp.dropped.frame-udp-checksum", MAC: mac},
		{Src: "0.0.0.0:68", MAC: mac, Payload: true}, // the sum was left to the NIC
		{Drop: "dhcp.dropped.too-large", MAC: mac},
		{Drop: "dhcp.dropped.frame-short", MAC: mac},
	}
	if diff := cmp.Diff(want, gots); diff != "" {
		t.Errorf("datagrams (-want +got):\n%s", diff)
	}
	if _, err := c.read(pkts); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after the end: %v", err)
	}
}

func TestFrameDropCounterNamesEveryRefusal(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range linklayer.Refusals {
		name := frameDropCounter(r)
		if !strings.HasPrefix(name, "dhcp.dropped.") || seen[name] {
			t.Errorf("%q -> %q", r, name)
		}
		seen[name] = true
	}
}

func TestLinkConnWrite(t *testing.T) {
	reply := request(dhcpv4.MessageTypeDiscover, func(d *dhcpv4.DHCPv4) { d.OpCode = dhcpv4.OpcodeBootReply }).ToBytes()
	relayMAC := []byte{0x52, 0x54, 0x00, 0xee, 0xee, 0x01}
	tests := []struct {
		name    string
		o       outgoing
		wantMAC string
		wantDst string
		wantErr bool
	}{
		{"broadcast", outgoing{data: reply, dst: &net.UDPAddr{IP: net.IPv4bcast, Port: 68}, hw: testMAC}, "ff:ff:ff:ff:ff:ff", "255.255.255.255:68", false},
		{"unicast to where the request came from", outgoing{data: reply, dst: &net.UDPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 67}, hw: relayMAC}, "52:54:00:ee:ee:01", "10.0.0.1:67", false},
		{"unicast, no source MAC: the reply's chaddr", outgoing{data: reply, dst: &net.UDPAddr{IP: net.IPv4(10, 0, 0, 50), Port: 68}}, testMAC.String(), "10.0.0.50:68", false},
		{"unicast, no MAC anywhere", outgoing{data: []byte("short"), dst: &net.UDPAddr{IP: net.IPv4(10, 0, 0, 50), Port: 68}}, "", "", true},
		{"too large for a frame", outgoing{data: make([]byte, 1600), dst: &net.UDPAddr{IP: net.IPv4bcast, Port: 68}}, "", "", true},
		{"IPv6", outgoing{data: reply, dst: &net.UDPAddr{IP: net.ParseIP("fd00::1"), Port: 68}}, "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeLink{}
			c := newLinkConn(fake, netip.MustParseAddrPort("10.0.0.2:67"))
			sent, err := c.write([]outgoing{tc.o})
			if tc.wantErr {
				if err == nil || sent != 0 || len(fake.sent()) != 0 {
					t.Fatalf("sent %d (%v), want an error and nothing sent", sent, err)
				}
				return
			}
			if err != nil || sent != 1 || len(fake.sent()) != 1 {
				t.Fatalf("sent %d, %v", sent, err)
			}
			d, why := linklayer.Parse(fake.sent()[0], true)
			if why != linklayer.Accepted {
				t.Fatalf("frame refused: %s", why)
			}
			if d.DstMAC.String() != tc.wantMAC || d.SrcMAC.String() != pixieMAC.String() || d.Dst.String() != tc.wantDst ||
				d.Src.String() != "10.0.0.2:67" || string(d.Payload) != string(tc.o.data) {
				t.Errorf("frame %s %s -> %s %s", d.SrcMAC, d.Src, d.DstMAC, d.Dst)
			}
		})
	}
}

func TestFromOtherInterface(t *testing.T) {
	on := func(ifindex int) []byte { return (&ipv4.ControlMessage{IfIndex: ifindex}).Marshal() }
	tests := []struct {
		name   string
		oob    []byte
		served int
		want   bool
	}{
		{"served interface", on(3), 3, false},
		{"another interface", on(7), 3, true},
		{"no interface in the message", on(0), 3, false},
		{"no control message", nil, 3, false},
		{"loopback test server", on(7), 0, false},
		{"garbage", []byte{1, 2, 3}, 3, false},
	}
	for _, tc := range tests {
		if got := fromOtherInterface(tc.oob, tc.served); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if len(on(3)) == 0 {
		t.Fatal("the fake control message is empty: the test proves nothing here")
	}
}

// unreachableConn is a batchConn whose writes to some destinations fail.
type unreachableConn struct {
	fail func(outgoing) error
	sent []outgoing
}

func (c *unreachableConn) read([]datagram) (int, error) { return 0, errors.New("not read") }

func (c *unreachableConn) write(out []outgoing) (int, error) {
	for i, o := range out {
		if err := c.fail(o); err != nil {
			return i, err
		}
		c.sent = append(c.sent, o)
	}
	return len(out), nil
}

func TestSendAllFallsBackToLinkLayer(t *testing.T) {
	errno := func(e syscall.Errno) error {
		return &net.OpError{Op: "write", Net: "udp", Err: os.NewSyscallError("sendto", e)}
	}
	bcast := &net.UDPAddr{IP: net.IPv4bcast, Port: 68}
	unicast := &net.UDPAddr{IP: net.IPv4(10, 0, 0, 50), Port: 68}
	reply := request(dhcpv4.MessageTypeDiscover, func(d *dhcpv4.DHCPv4) { d.OpCode = dhcpv4.OpcodeBootReply }).ToBytes()
	tests := []struct {
		name        string
		err         error
		dsts        []*net.UDPAddr
		noFallback  bool
		wantUDP     int
		wantFrames  int
		wantFailed  uint64
		wantEvents  int
		wantCounted uint64
	}{
		{name: "EHOSTUNREACH broadcast", err: errno(syscall.EHOSTUNREACH), dsts: []*net.UDPAddr{bcast, unicast, bcast}, wantUDP: 1, wantFrames: 2, wantEvents: 1, wantCounted: 2},
		{name: "ENETUNREACH broadcast", err: errno(syscall.ENETUNREACH), dsts: []*net.UDPAddr{bcast}, wantFrames: 1, wantEvents: 1, wantCounted: 1},
		{name: "another error", err: errno(syscall.ENOBUFS), dsts: []*net.UDPAddr{bcast, unicast}, wantUDP: 1, wantFailed: 1},
		{name: "no fallback socket", err: errno(syscall.EHOSTUNREACH), dsts: []*net.UDPAddr{bcast}, noFallback: true, wantFailed: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, counters := unstartedServer(t)
			rec := &recorder{}
			s.events = rec
			s.cfg.Interface = "en0"
			fake := &fakeLink{}
			if !tc.noFallback {
				s.fallback = fake
			}
			bc := &unreachableConn{fail: func(o outgoing) error {
				if o.dst.IP.Equal(net.IPv4bcast) {
					return tc.err
				}
				return nil
			}}
			var answers []pendingReply
			var out []outgoing
			for _, d := range tc.dsts {
				a := pendingReply{data: reply, dst: d, log: packetLog{log: s.log, mac: testMAC.String(), svc: ServiceDHCP}, d: Decision{Reply: dhcpv4.MessageTypeOffer}}
				answers = append(answers, a)
				out = append(out, outgoing{data: a.data, dst: a.dst})
			}
			s.sendAll(context.Background(), bc, answers, out)
			c := counters.Snapshot()
			if len(bc.sent) != tc.wantUDP || len(fake.sent()) != tc.wantFrames || c["dhcp.send-failed"] != tc.wantFailed ||
				c["dhcp.sent-link-fallback"] != tc.wantCounted || c["dhcp.sent.dhcp-offer"] != uint64(tc.wantUDP+tc.wantFrames) {
				t.Errorf("UDP %d, frames %d, counters %v", len(bc.sent), len(fake.sent()), c)
			}
			for _, f := range fake.sent() {
				d, why := linklayer.Parse(f, true)
				if why != linklayer.Accepted || d.DstMAC.String() != "ff:ff:ff:ff:ff:ff" || d.Src.String() != "10.0.0.2:67" {
					t.Errorf("fallback frame %v %s -> %s", why, d.Src, d.DstMAC)
				}
			}
			var evs []events.Event
			for _, e := range rec.all() {
				if e.Stage == events.StageServer && strings.Contains(e.Detail, "over the link layer") {
					evs = append(evs, e)
				}
			}
			if len(evs) != tc.wantEvents {
				t.Errorf("server events %+v, want %d", rec.all(), tc.wantEvents)
			}
		})
	}
}

func TestListenHeldPortWithoutInterface(t *testing.T) {
	held := listenLoopback(t)
	s, _ := unstartedServer(t)
	s.cfg.DHCPPort = held.LocalAddr().(*net.UDPAddr).Port
	s.cfg.PXEPort = freePort(t)
	opened := false
	s.openLink = func(string, ...uint16) (linkSocket, error) { opened = true; return &fakeLink{}, nil }
	err := s.Listen()
	if err == nil {
		s.Close()
		t.Fatal("Listen on a held port without an interface succeeded")
	}
	if !errors.Is(err, syscall.EADDRINUSE) || opened {
		t.Errorf("err = %v (EADDRINUSE kept: %v), link layer tried: %v", err, errors.Is(err, syscall.EADDRINUSE), opened)
	}
}
