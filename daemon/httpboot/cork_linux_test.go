package httpboot

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

func corked(t *testing.T, c net.Conn) int {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	rc.Control(func(fd uintptr) { v, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_CORK) })
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}

func TestCorkRequest(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()

	uncork := corkRequest(ConnContext(context.Background(), server))
	if got := corked(t, server); got != 1 {
		t.Fatalf("TCP_CORK = %d while corked, want 1", got)
	}
	uncork()
	if got := corked(t, server); got != 0 {
		t.Fatalf("TCP_CORK = %d after uncork, want 0", got)
	}
	// A context without a connection (a test server, a handler called
	// directly) is left alone.
	corkRequest(context.Background())()
}

// An image download goes out corked and the connection is uncorked when
// the body is done: two downloads on one keep-alive connection arrive
// whole, and the connection is back to TCP_CORK 0 after each.
func TestAssetDownloadUncorksAfterBody(t *testing.T) {
	f := newFixture(t)
	data := make([]byte, 3<<20+123) // not a whole number of segments
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(f.assets, "first-time", "big.img"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var after []int
	f.onIdle = func(c net.Conn) {
		mu.Lock()
		defer mu.Unlock()
		after = append(after, corked(t, c))
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	want := sha256.Sum256(data)
	for i := range 2 {
		resp, err := client.Get(f.url + "/assets/first-time/big.img")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || sha256.Sum256(got) != want {
			t.Fatalf("download %d: status %d, %d bytes (want %d), err %v", i, resp.StatusCode, len(got), len(data), err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(after) != 2 || after[0] != 0 || after[1] != 0 {
		t.Fatalf("TCP_CORK after each of the 2 responses on one connection = %v, want [0 0]", after)
	}
}
