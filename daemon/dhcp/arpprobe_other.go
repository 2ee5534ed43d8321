//go:build !linux

package dhcp

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// arpProber is not implemented here yet (macOS would need a BPF device
// filtering ARP): offers go out unprobed, and a client that finds its
// address in use DECLINEs it, which sets it aside.
type arpProber struct{}

func openARPProber(string) (*arpProber, error) { return nil, errors.ErrUnsupported }

func (*arpProber) close() {}

func (*arpProber) probe(context.Context, netip.Addr, time.Duration) (bool, error) {
	return false, errors.ErrUnsupported
}
