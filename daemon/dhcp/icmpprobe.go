package dhcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// icmpProber asks whether an address is in use with an ICMP echo request,
// the probe RFC 2131 (section 2.2) suggests, where an ARP probe cannot be
// sent (macOS, which would need a BPF device filtering ARP). It is weaker
// than ARP: a host whose firewall drops pings looks free, and then
// DECLINEs the address once it finds it taken, which sets it aside too.
//
// Its raw socket is opened when the server listens, on the calling
// thread, so sends stay in the server's network namespace whatever thread
// a probe later runs on.
type icmpProber struct {
	conn *icmp.PacketConn
	id   int

	mu  sync.Mutex // one probe at a time on the socket
	seq int
}

// openICMPProber opens the raw ICMP socket (root, or CAP_NET_RAW).
func openICMPProber() (*icmpProber, error) {
	conn, err := icmp.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		return nil, fmt.Errorf("opening an ICMP socket for address probes: %w", err)
	}
	return &icmpProber{conn: conn, id: os.Getpid() & 0xffff}, nil
}

// close waits for a probe in flight (at most its wait), then closes.
func (p *icmpProber) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conn.Close()
}

// probe sends one echo request to ip and reports whether ip answered it
// within wait. Other ICMP traffic the raw socket sees is skipped.
func (p *icmpProber) probe(ctx context.Context, ip netip.Addr, wait time.Duration) (bool, error) {
	if !ip.Is4() {
		return false, fmt.Errorf("probe %s: not an IPv4 address", ip)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq = (p.seq + 1) & 0xffff
	msg := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: p.id, Seq: p.seq, Data: []byte("pixie address probe")}}
	b, err := msg.Marshal(nil)
	if err != nil {
		return false, err
	}
	deadline := time.Now().Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := p.conn.SetDeadline(deadline); err != nil {
		return false, err
	}
	if _, err := p.conn.WriteTo(b, &net.IPAddr{IP: ip.AsSlice()}); err != nil {
		return false, fmt.Errorf("sending an ICMP echo to %s: %w", ip, err)
	}
	buf := make([]byte, 1500)
	for {
		n, from, err := p.conn.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return false, nil // nobody answered: the address looks free
			}
			return false, err
		}
		if echoReplyFrom(buf[:n], from, ip, p.id, p.seq) {
			return true, nil
		}
	}
}

// echoReplyFrom reports whether b, read from `from`, is ip's answer to
// the echo request with this id and seq.
func echoReplyFrom(b []byte, from net.Addr, ip netip.Addr, id, seq int) bool {
	a, ok := from.(*net.IPAddr)
	if !ok {
		return false
	}
	if got, ok := netip.AddrFromSlice(a.IP); !ok || got.Unmap() != ip {
		return false
	}
	m, err := icmp.ParseMessage(1, b) // 1: ICMP for IPv4
	if err != nil || m.Type != ipv4.ICMPTypeEchoReply {
		return false
	}
	e, ok := m.Body.(*icmp.Echo)
	return ok && e.ID == id && e.Seq == seq
}
