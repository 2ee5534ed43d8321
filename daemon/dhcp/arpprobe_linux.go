//go:build linux

package dhcp

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// arpProber sends RFC 5227 ARP probes on one interface. Its socket is
// opened when the server listens, on the calling thread, so it lives in
// the server's network namespace whatever thread a probe later runs on.
type arpProber struct {
	mu      sync.Mutex // one probe at a time reads the socket
	fd      int
	ifindex int
	mac     net.HardwareAddr
}

// openARPProber opens the probe socket on iface.
func openARPProber(iface string) (*arpProber, error) {
	ifc, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, err
	}
	if len(ifc.HardwareAddr) != 6 {
		return nil, fmt.Errorf("ARP probe on %s: not an Ethernet interface", iface)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons16(unix.ETH_P_ARP)))
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons16(unix.ETH_P_ARP), Ifindex: ifc.Index}); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("bind", err)
	}
	return &arpProber{fd: fd, ifindex: ifc.Index, mac: ifc.HardwareAddr}, nil
}

// close waits for a probe in flight (at most its wait) so the descriptor
// is never closed under it.
func (p *arpProber) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	unix.Close(p.fd)
}

// probe asks whether anyone holds ip (an ARP request from sender address
// 0.0.0.0, so no neighbour cache learns a binding from it) and reports
// whether a reply came within wait.
func (p *arpProber) probe(ctx context.Context, ip netip.Addr, wait time.Duration) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	target := ip.As4()
	req := make([]byte, 28)
	binary.BigEndian.PutUint16(req[0:], 1)      // Ethernet
	binary.BigEndian.PutUint16(req[2:], 0x0800) // IPv4
	req[4], req[5] = 6, 4
	binary.BigEndian.PutUint16(req[6:], 1) // request
	copy(req[8:14], p.mac)                 // sender MAC; sender IP stays 0.0.0.0
	copy(req[24:28], target[:])
	to := &unix.SockaddrLinklayer{Protocol: htons16(unix.ETH_P_ARP), Ifindex: p.ifindex, Halen: 6, Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	if err := unix.Sendto(p.fd, req, 0, to); err != nil {
		return false, os.NewSyscallError("sendto", err)
	}
	deadline := time.Now().Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	buf := make([]byte, 128)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false, nil
		}
		tv := unix.NsecToTimeval(left.Nanoseconds())
		if err := unix.SetsockoptTimeval(p.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return false, os.NewSyscallError("setsockopt", err)
		}
		n, _, err := unix.Recvfrom(p.fd, buf, 0)
		if err == unix.EAGAIN || err == unix.EINTR {
			continue
		}
		if err != nil {
			return false, os.NewSyscallError("recvfrom", err)
		}
		// A reply naming ip as its sender: the address is in use.
		if n >= 28 && binary.BigEndian.Uint16(buf[6:]) == 2 && [4]byte(buf[14:18]) == target {
			return true, nil
		}
	}
}

func htons16(v uint16) uint16 { return v<<8 | v>>8 }
