//go:build !linux

package dhcp

import (
	"context"
	"net/netip"
	"time"
)

// arpProber probes with ICMP echo here: an ARP probe would need a BPF
// device filtering ARP (macOS). See icmpProber for what that misses.
type arpProber struct{ icmp *icmpProber }

func openARPProber(string) (*arpProber, error) {
	p, err := openICMPProber()
	if err != nil {
		return nil, err
	}
	return &arpProber{icmp: p}, nil
}

func (p *arpProber) close() { p.icmp.close() }

func (p *arpProber) probe(ctx context.Context, ip netip.Addr, wait time.Duration) (bool, error) {
	return p.icmp.probe(ctx, ip, wait)
}
