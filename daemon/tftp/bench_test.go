package tftp

import (
	"encoding/binary"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/firmware"
)

// BenchmarkTransfer fetches undionly.kpxe (74,213 bytes) over loopback
// with a minimal lock-step or windowed client that allocates nothing per
// block, so allocs/op are the server's per transfer. Speed over a real
// link is bench/tftp.sh's business, side by side with in.tftpd.
func BenchmarkTransfer(b *testing.B) {
	for _, window := range []int{1, 8} {
		b.Run("windowsize="+strconv.Itoa(window), func(b *testing.B) {
			dataDir, _, files := fakeFirmware(b)
			e := start(b, firmware.New(dataDir, nil, nil), Config{})
			want := len(files["undionly.kpxe"])
			c := rawClient(b)
			srv := e.serverAddr(b)
			rrq := rawRRQ("undionly.kpxe", "blksize", "1468", "windowsize", strconv.Itoa(window))
			buf := make([]byte, 2048)
			ack := []byte{0, opACK, 0, 0}
			b.SetBytes(int64(want))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := c.WriteToUDP(rrq, srv); err != nil {
					b.Fatal(err)
				}
				got, inWindow := 0, 0
				var from *net.UDPAddr
				for done := false; !done; {
					c.SetReadDeadline(time.Now().Add(5 * time.Second))
					n, f, err := c.ReadFromUDP(buf)
					if err != nil {
						b.Fatal(err)
					}
					from = f
					switch binary.BigEndian.Uint16(buf) {
					case opOACK:
						ack[2], ack[3] = 0, 0
						c.WriteToUDP(ack, from)
						continue
					case opDATA:
					default:
						b.Fatalf("packet %q", buf[:n])
					}
					got += n - 4
					inWindow++
					done = n-4 < 1468
					if done || inWindow == window {
						copy(ack[2:], buf[2:4])
						c.WriteToUDP(ack, from)
						inWindow = 0
					}
				}
				if got != want {
					b.Fatalf("got %d bytes, want %d", got, want)
				}
			}
		})
	}
}
