package dhcp

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

// TestICMPProbeInNamespace: the probe macOS uses, run here in the test
// LAN's server namespace: an address a host on the link holds answers,
// a free one does not, within the wait.
func TestICMPProbeInNamespace(t *testing.T) {
	lan := newTestLAN(t)
	if _, err := lan.AddClient("squat", "10.77.0.130/24"); err != nil {
		t.Fatal(err)
	}
	var p *icmpProber
	if err := lan.InNamespace(lan.ServerNS, func() error {
		var err error
		p, err = openICMPProber()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer p.close()
	ctx := context.Background()
	for _, tt := range []struct {
		ip   string
		used bool
	}{{"10.77.0.130", true}, {"10.77.0.131", false}, {"10.77.0.130", true}} {
		start := time.Now()
		used, err := p.probe(ctx, netip.MustParseAddr(tt.ip), probeWait)
		if err != nil || used != tt.used {
			t.Errorf("probe %s = %v, %v; want %v", tt.ip, used, err, tt.used)
		}
		t.Logf("probe %s: used %v in %s", tt.ip, used, time.Since(start).Round(time.Millisecond))
	}
}
