// Package udpstat counts UDP datagrams the kernel dropped on full socket
// buffers where the OS says so only host-wide.
//
// On Linux pixie reads its own sockets' drops (SO_MEMINFO, daemon/dhcp).
// macOS has no per-socket drop count a program can read; what it has is
// the host's UDP statistics, `struct udpstat` from the sysctl
// net.inet.udp.stats, which `netstat -s -p udp` prints as "dropped due to
// full socket buffers". That count covers every program's sockets, so
// pixie reports it as host-wide: a rise during a boot storm is most likely
// pixie's, but mDNSResponder or a VM's traffic counts too.
package udpstat

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"
)

// Stats are the fields of xnu's struct udpstat pixie reads.
type Stats struct {
	Received   uint32 // udps_ipackets: datagrams received
	NoPort     uint32 // udps_noport: for a port no socket had
	FullSocket uint32 // udps_fullsock: not delivered, the socket's buffer was full
}

// Layout of struct udpstat in xnu's bsd/netinet/udp_var.h: u_int32_t
// fields in the machine's byte order, udps_ipackets first, udps_fullsock
// seventh. It has kept these first fields since 4.4BSD; later releases
// only appended (22 fields, 88 bytes, in current xnu).
const (
	offReceived   = 0 * 4
	offNoPort     = 4 * 4
	offFullSocket = 6 * 4
	minSize       = offFullSocket + 4
)

// ParseDarwin reads struct udpstat as the sysctl returns it.
func ParseDarwin(b []byte, order binary.ByteOrder) (Stats, error) {
	if len(b) < minSize {
		return Stats{}, fmt.Errorf("net.inet.udp.stats returned %d bytes, fewer than the %d of struct udpstat's first fields", len(b), minSize)
	}
	return Stats{
		Received:   order.Uint32(b[offReceived:]),
		NoPort:     order.Uint32(b[offNoPort:]),
		FullSocket: order.Uint32(b[offFullSocket:]),
	}, nil
}

// delta turns successive readings of a 32-bit kernel count into
// increments: the first reading is the baseline (drops before pixie
// started are not its); the count only goes back when it wraps past
// 2^32-1 (it is reset only by a reboot), so the difference is taken
// modulo 2^32.
type delta struct {
	last uint32
	have bool
}

func (d *delta) next(n uint64) uint64 {
	cur := uint32(n)
	if !d.have {
		d.last, d.have = cur, true
		return 0
	}
	inc := cur - d.last
	d.last = cur
	return uint64(inc)
}

// Watch reads the count with read every interval until ctx ends, and
// calls report with each increase. It returns at once when read says the
// count is not available here.
func Watch(ctx context.Context, interval time.Duration, read func() (uint64, bool), report func(uint64)) {
	var d delta
	n, ok := read()
	if !ok {
		return
	}
	d.next(n)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if n, ok := read(); ok {
			if inc := d.next(n); inc > 0 {
				report(inc)
			}
		}
	}
}
