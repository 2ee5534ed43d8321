package dhcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"syscall"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"golang.org/x/sys/unix"

	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/linklayer"
)

// The server's sockets: which kind each service gets (UDP, or raw frames
// when another program holds the port), and the link-layer fallback for
// broadcasts the UDP socket may not send.

// socket is one service's socket: UDP, or the link layer.
type socket struct {
	udp  *net.UDPConn
	link linkSocket
}

func (k socket) close() {
	if k.udp != nil {
		k.udp.Close()
	}
	if k.link != nil {
		k.link.Close()
	}
}

// Listen opens the DHCP and PXE sockets, so that a caller learns of a
// port held by another server before it commits to serving. Serve calls
// it when the caller has not. A port another program holds is answered
// over the link layer instead (see Config.LinkLayer), which LinkLayer
// reports.
//
// The sockets are opened on the calling goroutine: a caller that locked
// its OS thread into a network namespace gets sockets in that namespace.
func (s *Server) Listen() error {
	if s.listened {
		return nil
	}
	if s.cfg.LinkLayer && s.cfg.Interface == "" {
		return errors.New("dhcp: the link layer needs an interface")
	}
	if s.openLink == nil {
		s.openLink = func(iface string, ports ...uint16) (linkSocket, error) { return linklayer.Open(iface, ports...) }
	}
	if s.cfg.Interface != "" {
		ifc, err := net.InterfaceByName(s.cfg.Interface)
		if err != nil {
			return fmt.Errorf("dhcp: interface %q: %w", s.cfg.Interface, err)
		}
		s.ifindex = ifc.Index
	}
	dhcpSock, dhcpNote, err := s.listenService(s.cfg.DHCPPort, s.cfg.LinkLayer)
	if err != nil {
		return err
	}
	s.portHeld = dhcpSock.link != nil && !s.cfg.LinkLayer
	s.reply.PortHeld = s.portHeld
	if s.portHeld && s.full != nil {
		// Whatever holds port 67 on this host is a DHCP server on the
		// same link: handing out addresses beside it is what full mode
		// must never do.
		dhcpSock.close()
		return fmt.Errorf("dhcp: full DHCP mode needs UDP port %d, and %s holds it: stop that DHCP server, or run pixie without --dhcp", s.cfg.DHCPPort, describeHolders(udpPortHolders(s.cfg.DHCPPort)))
	}
	pxeSock, pxeNote, err := s.listenService(s.cfg.PXEPort, false)
	if err != nil {
		dhcpSock.close()
		return err
	}
	var notes []string
	for _, n := range []string{dhcpNote, pxeNote} {
		if n != "" {
			notes = append(notes, n)
		}
	}
	s.linkNote = strings.Join(notes, "; ")
	if s.cfg.Interface != "" {
		// Opened now, on this thread, so it is in the server's namespace;
		// it receives nothing.
		fb, err := s.openLink(s.cfg.Interface)
		if err != nil {
			s.log.Debug("no link-layer fallback for broadcast replies", "interface", s.cfg.Interface, "err", err)
		} else {
			s.fallback = fb
		}
	}
	if s.full != nil && s.cfg.Interface != "" {
		// Opened here, on this thread, for the same reason as above.
		if pr, err := openARPProber(s.cfg.Interface); err != nil {
			s.log.Warn("no address probe (ARP, or ICMP echo on macOS) before offering new addresses", "interface", s.cfg.Interface, "err", err)
		} else {
			s.prober = pr
		}
	}
	s.dhcpSock, s.pxeSock, s.listened = dhcpSock, pxeSock, true
	return nil
}

// PortHolder says which program on this host holds the DHCP port (as
// describeHolders names it), "" when pixie has it. Valid after Listen.
func (s *Server) PortHolder() string {
	if !s.portHeld {
		return ""
	}
	return describeHolders(udpPortHolders(s.cfg.DHCPPort))
}

// LinkLayer says which ports proxyDHCP answers over the link layer and
// why, e.g. "proxyDHCP over the link layer: port 67 is held by PID 812
// (dnsmasq)"; empty when both are ordinary UDP sockets. Valid after Listen.
func (s *Server) LinkLayer() string { return s.linkNote }

// listenService opens port's socket: UDP, or the link layer when asked
// (force) or when another program holds the port.
func (s *Server) listenService(port int, force bool) (socket, string, error) {
	var note string
	if force {
		note = fmt.Sprintf("proxyDHCP over the link layer: port %d as asked (--dhcp-link-layer)", port)
	} else {
		conn, err := s.listen(port)
		if err == nil {
			return socket{udp: conn}, "", nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) || s.cfg.Interface == "" {
			return socket{}, "", err
		}
		note = fmt.Sprintf("proxyDHCP over the link layer: port %d is held by %s", port, describeHolders(udpPortHolders(port)))
		defer func() {
			if note != "" {
				s.log.Warn(note, "interface", s.cfg.Interface)
			}
		}()
	}
	link, err := s.openLink(s.cfg.Interface, uint16(port))
	if err != nil {
		why := "another program holds it"
		if force {
			why = "the link layer was asked for"
		}
		note = ""
		return socket{}, "", fmt.Errorf("dhcp: port %d: %s, and answering over the link layer failed: %w", port, why, err)
	}
	if force {
		s.log.Info(note, "interface", s.cfg.Interface)
	}
	return socket{link: link}, note, nil
}

// Close closes the sockets of a server that was listened on but will not
// serve. Serve closes them itself when it returns.
func (s *Server) Close() {
	if s.listened {
		s.dhcpSock.close()
		s.pxeSock.close()
		if s.fallback != nil {
			s.fallback.Close()
		}
		if s.prober != nil {
			s.prober.close()
		}
	}
}

func (s *Server) listen(port int) (*net.UDPConn, error) {
	addr := &net.UDPAddr{IP: net.IP(s.cfg.ListenAddr.AsSlice()), Port: port}
	// As insomniacslk's NewIPv4UDPConn does, but keeping the bind's errno
	// (EADDRINUSE decides the link-layer path).
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); serr != nil {
				return
			}
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); serr != nil {
				return
			}
			if s.cfg.Interface != "" {
				serr = dhcpv4.BindToInterface(int(fd), s.cfg.Interface)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp4", addr.String())
	if err != nil {
		return nil, fmt.Errorf("dhcp: listen on %s (interface %q): %w", addr, s.cfg.Interface, err)
	}
	conn := pc.(*net.UDPConn)
	// A room full of machines powering on at once sends its DISCOVERs in
	// the same second; the default buffer (~200 KB) overflows first.
	growReadBuffer(conn, 4<<20)
	return conn, nil
}

// fallBack sends o over the link layer when the UDP socket refused a
// broadcast with EHOSTUNREACH or ENETUNREACH: seen on macOS, where a
// socket bound with IP_BOUND_IF to a link without a route cannot
// broadcast. The first time is a server event; each time is counted.
func (s *Server) fallBack(ctx context.Context, a pendingReply, o outgoing, err error) bool {
	if s.fallback == nil || !o.dst.IP.Equal(net.IPv4bcast) ||
		!(errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH)) {
		return false
	}
	lc := newLinkConn(s.fallback, netip.AddrPortFrom(s.cfg.ServerIP, uint16(s.svcPort(a.log.svc))))
	if _, lerr := lc.write([]outgoing{o}); lerr != nil {
		a.log.at(ctx, slog.LevelWarn, "sending the answer over the link layer failed too", "udp_err", err, "err", lerr)
		return false
	}
	s.counters.Inc("dhcp.sent-link-fallback")
	if !s.fallbackUsed.Swap(true) {
		detail := fmt.Sprintf("broadcast replies on %s go over the link layer: the system refused to broadcast them (%v)", s.cfg.Interface, err)
		s.log.Warn(detail, "mac", a.log.mac)
		if s.events != nil {
			s.events.Record(ctx, events.Event{Stage: events.StageServer, Detail: detail})
		}
	}
	return true
}

// svcPort is the port a service answers from.
func (s *Server) svcPort(svc Service) int {
	if svc == ServicePXE {
		return s.cfg.PXEPort
	}
	return s.cfg.DHCPPort
}
