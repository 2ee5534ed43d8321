package dhcp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/pixie-boot/pixie/daemon/events"
)

// The batch connection on a real loopback socket: several datagrams per
// read with their sources, an oversized one flagged, and a batch written
// back in one call with a bad destination refused in place.
func TestBatchConnLoopback(t *testing.T) {
	conn, client := listenLoopback(t), listenLoopback(t)
	bc, err := newBatchConn(conn, 0)
	if err != nil {
		t.Fatal(err)
	}

	sizes := []int{10, 300, maxPacket + 100}
	for i, n := range sizes {
		if _, err := client.WriteToUDP(bytes.Repeat([]byte{byte('a' + i)}, n), conn.LocalAddr().(*net.UDPAddr)); err != nil {
			t.Fatal(err)
		}
	}
	pkts := newDatagrams(readBatch)
	var got []datagram
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(got) < len(sizes) {
		n, err := bc.read(pkts)
		if err != nil {
			t.Fatalf("read after %d datagrams: %v", len(got), err)
		}
		for _, p := range pkts[:n] {
			p.buf = bytes.Clone(p.buf[:p.n])
			got = append(got, p)
		}
	}
	clientPort := client.LocalAddr().(*net.UDPAddr).Port
	for i, p := range got {
		want := min(sizes[i], maxPacket)
		if p.n != want || p.buf[0] != byte('a'+i) || !bytes.Equal(p.buf, bytes.Repeat(p.buf[:1], want)) {
			t.Errorf("datagram %d: %d bytes starting %q, want %d of %q", i, p.n, p.buf[:1], want, string(rune('a'+i)))
		}
		if !p.src.IP.Equal(net.IPv4(127, 0, 0, 1)) || p.src.Port != clientPort {
			t.Errorf("datagram %d from %v, want 127.0.0.1:%d", i, p.src, clientPort)
		}
		if p.truncated != (sizes[i] > maxPacket) {
			t.Errorf("datagram %d of %d bytes: truncated = %v", i, sizes[i], p.truncated)
		}
	}

	to := client.LocalAddr().(*net.UDPAddr)
	out := []outgoing{
		{data: []byte("first"), dst: to},
		{data: []byte("lost"), dst: &net.UDPAddr{IP: net.ParseIP("fe80::1"), Port: to.Port}},
		{data: []byte("third"), dst: to},
	}
	sent, err := bc.write(out)
	if sent != 1 || err == nil {
		t.Fatalf("write with an IPv6 destination second: sent %d, err %v; want 1 and an error", sent, err)
	}
	if sent, err := bc.write(out[2:]); sent != 1 || err != nil {
		t.Fatalf("write of the rest: sent %d, err %v", sent, err)
	}
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 100)
	for _, want := range []string{"first", "third"} {
		n, from, err := client.ReadFromUDP(buf)
		if err != nil {
			t.Fatal(err)
		}
		if string(buf[:n]) != want || from.Port != conn.LocalAddr().(*net.UDPAddr).Port {
			t.Errorf("client got %q from %v, want %q from the server's port", buf[:n], from, want)
		}
	}
}

// failingConn accepts writes except to one port.
type failingConn struct {
	failPort int
	sent     []string
}

func (f *failingConn) read([]datagram) (int, error) { return 0, io.EOF }

func (f *failingConn) write(out []outgoing) (int, error) {
	for i, o := range out {
		if o.dst.Port == f.failPort {
			return i, errors.New("refused")
		}
		f.sent = append(f.sent, string(o.data))
	}
	return len(out), nil
}

func TestSendAllSkipsARefusedDatagram(t *testing.T) {
	s, counters := unstartedServer(t)
	var answers []pendingReply
	var out []outgoing
	for i, port := range []int{68, 9, 68, 68} {
		a := pendingReply{data: []byte{byte('a' + i)}, dst: &net.UDPAddr{IP: net.IPv4(10, 0, 0, 9), Port: port},
			log: packetLog{log: s.log, svc: ServiceDHCP}, d: Decision{Reply: dhcpv4.MessageTypeOffer}}
		answers = append(answers, a)
		out = append(out, outgoing{data: a.data, dst: a.dst})
	}
	fc := &failingConn{failPort: 9}
	s.sendAll(context.Background(), fc, answers, out)
	if got := strings.Join(fc.sent, ""); got != "acd" {
		t.Errorf("sent %q, want a, c and d (b refused)", got)
	}
	snap := counters.Snapshot()
	if snap["dhcp.sent.dhcp-offer"] != 3 || snap["dhcp.send-failed"] != 1 {
		t.Errorf("counters %v: want 3 offers sent and 1 send failure", snap)
	}
}

// listenLoopback opens a UDP socket on 127.0.0.1, closed when t ends.
func listenLoopback(t *testing.T) *net.UDPConn {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// unstartedServer is a Server for tests that drive its parts directly,
// with its counters.
func unstartedServer(t *testing.T) (*Server, *events.Counters) {
	t.Helper()
	counters := events.NewCounters()
	s, err := New(Config{ServerIP: netip.MustParseAddr("10.0.0.2"), HTTPPort: 8080, ListenAddr: netip.MustParseAddr("127.0.0.1")},
		Deps{Log: slog.New(slog.DiscardHandler), Counters: counters, Firmware: firmwareSet{}})
	if err != nil {
		t.Fatal(err)
	}
	return s, counters
}

// sentCounter's constants are the names the general form gives.
func TestSentCounter(t *testing.T) {
	for _, svc := range []Service{ServiceDHCP, ServicePXE} {
		for _, reply := range []dhcpv4.MessageType{dhcpv4.MessageTypeOffer, dhcpv4.MessageTypeAck, dhcpv4.MessageTypeNak} {
			if got, want := sentCounter(svc, reply), "dhcp.sent."+svc.String()+"-"+verb(reply); got != want {
				t.Errorf("sentCounter(%s, %s) = %q, want %q", svc, reply, got, want)
			}
		}
	}
}
