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
)

// BenchmarkAnswerUEFILadder is BenchmarkAnswer for UEFI x86-64 DISCOVERs,
// each from a new machine, with and without the ladder book: what the
// per-MAC loader state costs on the hot path.
func BenchmarkAnswerUEFILadder(b *testing.B) {
	for _, withBook := range []bool{false, true} {
		name := "no-book"
		if withBook {
			name = "book"
		}
		b.Run(name, func(b *testing.B) {
			fw := firmwareSet{FileSNPOnly: true, FileEFIx64: true}
			deps := Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Events: nullRecorder{}, Firmware: fw}
			if withBook {
				deps.Ladder = NewLadderBook(LoaderAuto, 65536, fw, nil)
			}
			s, err := New(Config{ServerIP: netip.MustParseAddr("10.78.0.2"), HTTPPort: 8080, ListenAddr: netip.MustParseAddr("127.0.0.1")}, deps)
			if err != nil {
				b.Fatal(err)
			}
			pkt := request(dhcpv4.MessageTypeDiscover, pxe(7), giaddr("10.78.0.10"), func(d *dhcpv4.DHCPv4) {
				d.ClientHWAddr = net.HardwareAddr{0, 0x0c, 1, 2, 3, 4}
			}, opt(97, "\x00"+string(make([]byte, 16)))).ToBytes()
			src := &net.UDPAddr{IP: net.IPv4(10, 78, 0, 10), Port: 67}
			ctx := context.Background()
			b.ReportAllocs()
			var buf []byte
			for i := 0; b.Loop(); i++ {
				binary.BigEndian.PutUint32(pkt[30:34], uint32(i)) // a new machine each time
				binary.BigEndian.PutUint32(pkt[4:8], uint32(i))
				a, ok := s.decide(ctx, ServiceDHCP, pkt, src, buf[:0])
				if !ok {
					b.Fatal("no answer")
				}
				buf = a.data
				s.answering(ctx, a)
			}
		})
	}
}
