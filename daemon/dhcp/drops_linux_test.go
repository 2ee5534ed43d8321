package dhcp

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/events"
)

// A socket nobody reads, with a small buffer, filled past it: the kernel
// counts the drops and socketDrops reads them.
func TestSocketDropsCountsAFullBuffer(t *testing.T) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadBuffer(4096) // the kernel's minimum, a few datagrams
	if n, ok := socketDrops(conn); !ok || n != 0 {
		t.Fatalf("before: drops %d, ok %v; want 0, true", n, ok)
	}
	sender, err := net.DialUDP("udp4", nil, conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	const sent = 200
	payload := make([]byte, 1000)
	for range sent {
		if _, err := sender.Write(payload); err != nil {
			t.Fatal(err)
		}
	}
	n, ok := socketDrops(conn)
	if !ok || n == 0 || n > sent {
		t.Fatalf("after %d datagrams into a 4 KB buffer: drops %d, ok %v; want between 1 and %d", sent, n, ok, sent)
	}
	t.Logf("%d of %d datagrams dropped by the kernel", n, sent)
}

// The watcher puts the kernel's drops into the counters.
func TestWatchDropsCounts(t *testing.T) {
	counters := events.NewCounters()
	s, err := New(Config{ServerIP: netip.MustParseAddr("10.0.0.2"), HTTPPort: 8080, ListenAddr: netip.MustParseAddr("127.0.0.1")},
		Deps{Log: slog.New(slog.DiscardHandler), Counters: counters, Firmware: firmwareSet{}})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadBuffer(4096)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.watchDrops(ctx, 10*time.Millisecond, conn); close(done) }()
	defer func() { cancel(); <-done }()
	time.Sleep(30 * time.Millisecond) // the watcher has taken its baseline

	sender, err := net.DialUDP("udp4", nil, conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	for range 200 {
		sender.Write(make([]byte, 1000))
	}
	want, _ := socketDrops(conn)
	waitFor(t, "the kernel's drops in dhcp.dropped.kernel", func() bool {
		return counters.Snapshot()["dhcp.dropped.kernel"] == want
	})
}
