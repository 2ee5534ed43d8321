//go:build linux

package dhcp

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pixie-boot/pixie/internal/testnet"
)

// TestCheckRivalsInNamespace runs the active check from the server
// namespace: on a LAN with no DHCP server it finds nothing; with dnsmasq
// handing out addresses in the router namespace it finds dnsmasq, and the
// DISCOVER it sent leaves no lease behind in dnsmasq's lease file.
func TestCheckRivalsInNamespace(t *testing.T) {
	if _, err := exec.LookPath("dnsmasq"); err != nil {
		t.Skip("skipping: dnsmasq is not installed")
	}
	lan := newTestLAN(t)
	own := netip.MustParseAddr(testnet.ServerIP)
	check := func() []Rival {
		t.Helper()
		var rs []Rival
		err := lan.InNamespace(lan.ServerNS, func() error {
			var err error
			rs, err = CheckRivals(context.Background(), testnet.Iface, own, DefaultRivalWait)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	if rs := check(); len(rs) != 0 {
		t.Fatalf("no DHCP server on the LAN, found %v", rs)
	}

	// The passive watch runs from before dnsmasq starts.
	var mu sync.Mutex
	var watched []Rival
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- lan.InNamespace(lan.ServerNS, func() error {
			return WatchRivals(ctx, testnet.Iface, own, func(r Rival) { mu.Lock(); watched = append(watched, r); mu.Unlock() })
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("WatchRivals: %v", err)
		}
	}()

	if _, err := lan.StartRouterDHCP(); err != nil {
		t.Fatal(err)
	}
	rs := check()
	if len(rs) != 1 || rs[0].Server.String() != testnet.RouterIP || !rs[0].Offered.IsValid() {
		t.Fatalf("with dnsmasq on the router: found %+v, want one rival at %s that offered an address", rs, testnet.RouterIP)
	}
	// The check never REQUESTs: dnsmasq bound no lease for pixie's MAC.
	if b, err := os.ReadFile(filepath.Join(lan.Dir, "dnsmasq-router", "dnsmasq.leases")); err == nil && strings.TrimSpace(string(b)) != "" {
		t.Errorf("the check left a lease in dnsmasq: %q", b)
	}
	waitFor(t, "the watch to see dnsmasq's offer", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(watched) > 0 && watched[0].Server.String() == testnet.RouterIP
	})
}
