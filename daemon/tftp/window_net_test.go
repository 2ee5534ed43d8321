package tftp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/firmware"
)

// windowClient is an RFC 7440 receiver written for the test: it asks for a
// window, ACKs every window's last block, loses the blocks it is told to
// lose once each, and ACKs the last block it has in order when one is
// missing. It returns the file and the number of DATA packets it saw.
func windowClient(t *testing.T, e *env, name string, blksize, window int, lose map[uint16]bool) ([]byte, int) {
	t.Helper()
	c := rawClient(t)
	rrq := rawRRQ(name, "blksize", strconv.Itoa(blksize), "windowsize", strconv.Itoa(window), "tsize", "0")
	if _, err := c.WriteToUDP(rrq, e.serverAddr(t)); err != nil {
		t.Fatal(err)
	}
	p, from := readPacket(t, c, 3*time.Second)
	if p == nil || binary.BigEndian.Uint16(p) != opOACK {
		t.Fatalf("want OACK, got %q", p)
	}
	if !bytes.Contains(p, []byte("windowsize\x00"+strconv.Itoa(window)+"\x00")) {
		t.Fatalf("OACK %q does not grant windowsize %d", p, window)
	}
	ack := func(b uint16) {
		if _, err := c.WriteToUDP([]byte{0, opACK, byte(b >> 8), byte(b)}, from); err != nil {
			t.Fatal(err)
		}
	}
	ack(0)
	var got []byte
	expect, inWindow, packets := uint16(1), 0, 0
	gapAcked := false
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		p, src := readPacket(t, c, 3*time.Second)
		if p == nil {
			t.Fatalf("no packet after %d bytes", len(got))
		}
		if src.Port != from.Port {
			t.Fatalf("packet from port %d, transfer is on %d", src.Port, from.Port)
		}
		if binary.BigEndian.Uint16(p) != opDATA {
			t.Fatalf("want DATA, got %q", p)
		}
		packets++
		blk := binary.BigEndian.Uint16(p[2:])
		if lose[blk] {
			delete(lose, blk)
			continue
		}
		if blk != expect {
			if !gapAcked { // RFC 7440: ACK the last block received in order
				ack(expect - 1)
				gapAcked, inWindow = true, 0
			}
			continue
		}
		got = append(got, p[4:]...)
		expect++
		inWindow++
		gapAcked = false
		if len(p)-4 < blksize {
			ack(blk)
			return got, packets
		}
		if inWindow == window {
			ack(blk)
			inWindow = 0
		}
	}
	t.Fatal("transfer did not end")
	return nil, 0
}

func TestWindowsizeRaw(t *testing.T) {
	e := startFake(t)
	want := e.files["ipxe.efi"] // 300001 bytes: 586 blocks of 512
	blocks := len(want)/512 + 1

	got, packets := windowClient(t, e, "ipxe.efi", 512, 8, nil)
	if !bytes.Equal(got, want) {
		t.Fatalf("window 8: got %d bytes, want %d", len(got), len(want))
	}
	if packets != blocks {
		t.Errorf("window 8 without loss: %d DATA packets for %d blocks", packets, blocks)
	}

	// Lose blocks inside windows, at a window's start and its end: the
	// server restarts after the last block the client has.
	got, packets = windowClient(t, e, "ipxe.efi", 512, 8, map[uint16]bool{3: true, 9: true, 16: true, 100: true})
	if !bytes.Equal(got, want) {
		t.Fatalf("window 8 with loss: got %d bytes, want %d", len(got), len(want))
	}
	if packets <= blocks {
		t.Errorf("with loss: %d DATA packets for %d blocks; want resends", packets, blocks)
	}
	e.waitCounter(t, counterSent, 2)
	recs := e.logs.find("TFTP transfer complete")
	if len(recs) != 2 || recs[1].attrs["windowsize"] != "8" || recs[1].attrs["blksize"] != "512" {
		t.Errorf("transfer log %+v; want windowsize 8", recs)
	}
}

// TestWindowsizeLastBlockLost: the final block is lost; the client's
// silence makes the server resend from the last block acknowledged.
func TestWindowsizeLastBlockLost(t *testing.T) {
	dataDir, _, files := fakeFirmware(t)
	e := start(t, firmware.New(dataDir, nil, nil), Config{Timeout: 200 * time.Millisecond, Retries: 5})
	want := files["undionly.kpxe"] // 74213 bytes: 145 blocks of 512, the last short
	got, _ := windowClient(t, e, "undionly.kpxe", 512, 4, map[uint16]bool{145: true})
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, want %d", len(got), len(want))
	}
	e.waitCounter(t, counterSent, 1)
}

// TestAtftpWindowsize fetches with atftp, a real client that asks for a
// window (RFC 7440).
func TestAtftpWindowsize(t *testing.T) {
	if _, err := exec.LookPath("atftp"); err != nil {
		t.Skip("atftp is not installed (Debian: apt-get install atftp): skipping")
	}
	e := startFake(t)
	host, port, _ := net.SplitHostPort(e.addr)
	dir := t.TempDir()
	for _, tc := range []struct{ file, blksize, window string }{
		{"ipxe.efi", "1468", "16"},
		{"snponly.efi", "512", "4"},    // ends with an empty block
		{"undionly.kpxe", "1024", "1"}, // lock-step, negotiated
	} {
		out := filepath.Join(dir, tc.file)
		b, err := run(t, dir, "atftp", "--option", "blksize "+tc.blksize, "--option", "windowsize "+tc.window,
			"--option", "tsize 0", "-g", "-r", tc.file, "-l", out, host, port)
		if err != nil {
			t.Fatalf("atftp %s: %v\n%s", tc.file, err, b)
		}
		got, err := os.ReadFile(out)
		if err != nil || !bytes.Equal(got, e.files[tc.file]) {
			t.Fatalf("atftp %s windowsize %s: %d bytes (%v), want %d", tc.file, tc.window, len(got), err, len(e.files[tc.file]))
		}
	}
	e.waitCounter(t, counterSent, 3)
	recs := e.logs.find("TFTP transfer complete")
	if len(recs) != 3 || recs[0].attrs["windowsize"] != "16" {
		t.Errorf("transfer logs %+v; want the first with windowsize 16", recs)
	}
}

// TestConcurrentTransfers runs transfers side by side, in blocking reads
// (as many as the server allows) and through the netpoller beyond that,
// and with every transfer on the netpoller.
func TestConcurrentTransfers(t *testing.T) {
	for _, tc := range []struct {
		name        string
		blockingMax int32
	}{{"default", -1}, {"netpoller only", 0}, {"blocking only", 64}} {
		t.Run(tc.name, func(t *testing.T) {
			dataDir, _, files := fakeFirmware(t)
			e := startWith(t, firmware.New(dataDir, nil, nil), nil, Config{}, func(s *Server) {
				if tc.blockingMax >= 0 {
					s.blockingMax = tc.blockingMax
				}
			})
			e.files = files
			const clients = 12
			errs := make(chan error, clients)
			for i := range clients {
				go func() {
					name := []string{"ipxe.efi", "undionly.kpxe", "snponly.efi"}[i%3]
					got, _, err := get(e.client(t, 1468, true), name)
					if err == nil && !bytes.Equal(got, files[name]) {
						err = fmt.Errorf("%s: got %d bytes, want %d", name, len(got), len(files[name]))
					}
					errs <- err
				}()
			}
			for range clients {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
			e.waitCounter(t, counterSent, clients)
		})
	}
}

// TestTooManyTransfers: beyond the limit a request is dropped and
// counted, not answered with another socket.
func TestTooManyTransfers(t *testing.T) {
	dataDir, _, _ := fakeFirmware(t)
	e := startWith(t, firmware.New(dataDir, nil, nil), nil, Config{Timeout: 200 * time.Millisecond, Retries: 2},
		func(s *Server) { s.maxActive = 1 })
	stalled := rawClient(t)
	stalled.WriteToUDP(rawRRQ("ipxe.efi"), e.serverAddr(t))
	if p, _ := readPacket(t, stalled, 3*time.Second); p == nil || binary.BigEndian.Uint16(p) != opDATA {
		t.Fatalf("want DATA, got %q", p)
	} // and never ACKed: the transfer stays in progress for a while
	second := rawClient(t)
	second.WriteToUDP(rawRRQ("undionly.kpxe"), e.serverAddr(t))
	e.waitCounter(t, counterBusy, 1)
	if p, _ := readPacket(t, second, 100*time.Millisecond); p != nil {
		t.Errorf("request beyond the limit answered: %q", p)
	}
	// Once the stalled transfer gave up (no data acknowledged: counted
	// as a client that went quiet), requests are served again.
	e.waitCounter(t, counterTsizeProbe, 1)
	got, _, err := get(e.client(t, 0, false), "undionly.kpxe")
	if err != nil || len(got) != 74213 {
		t.Fatalf("after the limit: %d bytes, %v", len(got), err)
	}
}
