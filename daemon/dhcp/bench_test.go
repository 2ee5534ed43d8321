package dhcp

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/pixie-boot/pixie/daemon/events"
)

// nullRecorder takes events and keeps none.
type nullRecorder struct{}

func (nullRecorder) Record(context.Context, events.Event) {}

// BenchmarkAnswer is the per-packet work of the read loop for a BIOS PXE
// DISCOVER, without the system calls: parse, decide, encode, log a line
// at the daemon's default level, record the event. perfdhcp's DISCOVERs
// look like these (a relay's, with PXE options 60, 93 and 97). Every
// packet comes from a machine not seen before, so every answer is a new
// boot step, logged and recorded: the most work an answer can cost.
func BenchmarkAnswer(b *testing.B) {
	s, err := New(Config{ServerIP: netip.MustParseAddr("10.78.0.2"), HTTPPort: 8080, ListenAddr: netip.MustParseAddr("127.0.0.1")},
		Deps{
			Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
			Events:   nullRecorder{},
			Firmware: firmwareSet{FileBIOS: true, FileEFIx64: true},
		})
	if err != nil {
		b.Fatal(err)
	}
	pkts := make([][]byte, 1000)
	for i := range pkts {
		pkts[i] = request(dhcpv4.MessageTypeDiscover, pxe(0), giaddr("10.78.0.10"), func(d *dhcpv4.DHCPv4) {
			d.ClientHWAddr = net.HardwareAddr{0, 0x0c, 1, 2, byte(i >> 8), byte(i)}
			d.TransactionID = dhcpv4.TransactionID{0, 0, byte(i >> 8), byte(i)}
		}, opt(97, "\x00"+string(make([]byte, 16)))).ToBytes()
	}
	src := &net.UDPAddr{IP: net.IPv4(10, 78, 0, 10), Port: 67}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	var buf []byte
	for i := 0; b.Loop(); i++ {
		pkt := pkts[i%len(pkts)]
		binary.BigEndian.PutUint32(pkt[30:34], uint32(i)) // chaddr's last 4 bytes: a new machine
		a, ok := s.decide(ctx, ServiceDHCP, pkt, src, buf[:0])
		buf = a.data
		if !ok {
			b.Fatal("no answer")
		}
		s.answering(ctx, a)
	}
}
