package dhcp

import (
	"context"
	"net"
	"time"
)

// dropWatch turns the kernel's per-socket count of datagrams dropped on a
// full receive buffer into the dhcp.dropped.kernel counter. Those packets
// never reach pixie, so only the kernel can say they were lost: a boot
// storm bigger than the buffer, or a machine too slow for its LAN.
type dropWatch struct {
	read func() (uint64, bool) // the sockets' drops so far
	last uint64
}

// delta returns how many drops are new since the last call.
func (w *dropWatch) delta() uint64 {
	n, ok := w.read()
	if !ok {
		return 0
	}
	if n < w.last { // a count that went back cannot be trusted: start over
		w.last = n
		return 0
	}
	d := n - w.last
	w.last = n
	return d
}

// watchDrops adds the kernel's drops on conns to the counters every
// interval until ctx ends, and once more then.
func (s *Server) watchDrops(ctx context.Context, interval time.Duration, conns ...*net.UDPConn) {
	w := &dropWatch{read: func() (uint64, bool) {
		var total uint64
		for _, c := range conns {
			n, ok := socketDrops(c)
			if !ok {
				return 0, false
			}
			total += n
		}
		return total, true
	}}
	w.delta() // drops before serving are not ours to report
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if d := w.delta(); d > 0 {
			s.counters.Add("dhcp.dropped.kernel", d)
			s.log.Warn("the kernel dropped DHCP packets: pixie's receive buffer was full (a boot storm, or a slow machine)",
				"dropped", d)
		}
	}
}
