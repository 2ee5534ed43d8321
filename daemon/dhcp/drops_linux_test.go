package dhcp

import (
	"context"
	"net"
	"testing"
	"time"
)

// A socket nobody reads, with a small buffer, filled past it: the kernel
// counts the drops and socketDrops reads them.
func TestSocketDropsCountsAFullBuffer(t *testing.T) {
	conn := listenLoopback(t)
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
	s, counters := unstartedServer(t)
	conn := listenLoopback(t)
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
	if want == 0 {
		t.Fatal("the kernel dropped nothing: the test did not fill the buffer")
	}
	waitFor(t, "the kernel's drops in dhcp.dropped.kernel", func() bool {
		return counters.Snapshot()["dhcp.dropped.kernel"] == want
	})
}
