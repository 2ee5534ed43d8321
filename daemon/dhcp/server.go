package dhcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"golang.org/x/sync/errgroup"

	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/hwaddr"
)

// Default ports. Config fields left at zero use these.
const (
	DefaultDHCPPort   = dhcpv4.ServerPort // 67
	DefaultPXEPort    = 4011
	DefaultClientPort = dhcpv4.ClientPort // 68
)

// Config says where the server listens and what it tells clients.
type Config struct {
	// Interface is the network interface to serve on. Both sockets are
	// bound to it (SO_BINDTODEVICE on Linux, IP_BOUND_IF on macOS), so
	// pixie never answers on, or broadcasts to, any other network. It may
	// be empty only when ListenAddr is a loopback address (tests); such a
	// server can unicast but never broadcasts.
	Interface string
	// ListenAddr is the address both sockets bind to. The zero value means
	// 0.0.0.0, which is needed to receive broadcasts.
	ListenAddr netip.Addr
	// ServerIP, HTTPPort and EFIFile are as in ReplyConfig.
	ServerIP netip.Addr
	HTTPPort int
	EFIFile  string
	// DHCPPort, PXEPort and ClientPort override 67, 4011 and 68 (tests).
	DHCPPort   int
	PXEPort    int
	ClientPort int
	// LinkLayer answers the DHCP port with raw Ethernet frames
	// (AF_PACKET, BPF) even when it could be bound. Without it the link
	// layer is used for a port another program holds (EADDRINUSE: dnsmasq
	// on the same host, launchd for bootpd on a Mac). Needs Interface.
	LinkLayer bool
}

// EventRecorder records boot events; *events.Hub implements it.
type EventRecorder interface {
	Record(ctx context.Context, e events.Event)
}

// Deps are the server's collaborators.
type Deps struct {
	// Log receives one Info line per answered boot step or retransmit and
	// Debug lines for everything else (repeats within a second included).
	// Nil discards.
	Log *slog.Logger
	// Events receives a boot event per boot step answered (retransmits
	// and repeats within a second are one step; see repeats). Nil records
	// none.
	Events EventRecorder
	// Counters counts received, dropped, ignored (by reason) and sent
	// packets. Nil uses a private set.
	Counters *events.Counters
	// Paused reports whether serving is paused; boot requests are then
	// ignored with ReasonPaused. Nil means never paused.
	Paused func() bool
	// Firmware says which firmware files can be offered. Required.
	Firmware Firmware
	// Seen, if set, is told the address a boot client reveals (ciaddr or
	// option 50), so TFTP transfers from that address can be attributed to
	// its MAC.
	Seen func(mac net.HardwareAddr, ip net.IP)
	// Ladder holds each machine's loader pin and ladder state. Nil: every
	// UEFI machine gets the bottom rung's file (snponly.efi, else ipxe.efi)
	// and nothing steps.
	Ladder *LadderBook
	// Full, when set, is full-DHCP mode: port 67 hands out addresses from
	// its pool to every client on the link (see DecideFull); port 4011
	// stays proxyDHCP. Nil: proxy mode.
	Full *FullMode
	// NoAddress, if set, says why a proxy-mode client pixie offers a boot
	// file gets no address from anyone (no DHCP server answered on the
	// link); that is recorded as a boot event beside the offer. "" when
	// the link has one.
	NoAddress func() string
	// LoaderSets finds machines whose image brings its own shim and GRUB
	// (loaderset.go). Nil: the server-wide set for every machine.
	LoaderSets LoaderSets
}

// Server is pixie's proxyDHCP server: it answers PXE and UEFI HTTP boot
// clients on UDP 67 and 4011 and never hands out addresses.
type Server struct {
	cfg      Config
	reply    ReplyConfig
	log      *slog.Logger
	events   EventRecorder
	counters *events.Counters
	paused   func() bool
	seen     func(net.HardwareAddr, net.IP)
	repeats  *repeats
	ladder   *LadderBook
	full     *FullMode
	noAddr   func() string
	// probes bounds the ARP probes in flight (full-DHCP mode); prober
	// sends them (nil: none, offers go unprobed).
	probes chan struct{}
	prober *arpProber

	// The sockets, once Listen has opened them.
	dhcpSock, pxeSock socket
	listened          bool
	// ifindex is Interface's index (0 without one).
	ifindex int
	// linkNote says which ports are answered over the link layer and why.
	linkNote string
	// portHeld: another program on this host holds the DHCP port (the
	// decision's ReplyConfig.PortHeld).
	portHeld bool
	// fallback sends a broadcast reply the UDP socket could not (macOS
	// with IP_BOUND_IF on a link without a route: EHOSTUNREACH); nil
	// when no link-layer socket could be had.
	fallback     linkSocket
	fallbackUsed atomic.Bool
	// openLink opens a link-layer socket on the interface: a fake in
	// tests, linklayer.Open when nil.
	openLink func(iface string, ports ...uint16) (linkSocket, error)
}

// New checks cfg and returns a server ready to Serve.
func New(cfg Config, deps Deps) (*Server, error) {
	if !cfg.ServerIP.Is4() || cfg.ServerIP.IsUnspecified() {
		return nil, fmt.Errorf("dhcp: server IP %v is not a usable IPv4 address", cfg.ServerIP)
	}
	if cfg.HTTPPort <= 0 || cfg.HTTPPort > 65535 {
		return nil, fmt.Errorf("dhcp: HTTP port %d out of range", cfg.HTTPPort)
	}
	switch cfg.EFIFile {
	// shimx64.efi sends every x86-64 UEFI machine to the signed shim ->
	// GRUB chain (Secure Boot), a whole-server choice until loaders are
	// chosen per machine.
	case "", FileEFIx64, FileSNPOnly, "shimx64.efi":
	default:
		return nil, fmt.Errorf("dhcp: EFI file %q: want %q, %q or %q", cfg.EFIFile, FileEFIx64, FileSNPOnly, "shimx64.efi")
	}
	if !cfg.ListenAddr.IsValid() {
		cfg.ListenAddr = netip.IPv4Unspecified()
	}
	if !cfg.ListenAddr.Is4() {
		return nil, fmt.Errorf("dhcp: listen address %v is not IPv4", cfg.ListenAddr)
	}
	if cfg.Interface == "" && !cfg.ListenAddr.IsLoopback() {
		// An unbound socket would hear, and broadcast to, every network
		// the machine is on.
		return nil, errors.New("dhcp: an interface is required (only loopback test servers may run without one)")
	}
	for _, p := range []*int{&cfg.DHCPPort, &cfg.PXEPort, &cfg.ClientPort} {
		if *p < 0 || *p > 65535 {
			return nil, fmt.Errorf("dhcp: port %d out of range", *p)
		}
	}
	if cfg.DHCPPort == 0 {
		cfg.DHCPPort = DefaultDHCPPort
	}
	if cfg.PXEPort == 0 {
		cfg.PXEPort = DefaultPXEPort
	}
	if cfg.ClientPort == 0 {
		cfg.ClientPort = DefaultClientPort
	}
	if deps.Firmware == nil {
		return nil, errors.New("dhcp: Deps.Firmware is required")
	}
	s := &Server{
		cfg: cfg,
		reply: ReplyConfig{
			ServerIP:   cfg.ServerIP,
			HTTPPort:   cfg.HTTPPort,
			EFIFile:    cfg.EFIFile,
			Firmware:   deps.Firmware,
			LoaderSets: deps.LoaderSets,
		},
		log:      deps.Log,
		events:   deps.Events,
		counters: deps.Counters,
		paused:   deps.Paused,
		repeats:  newRepeats(10*time.Second, time.Second, 4096),
		seen:     deps.Seen,
		ladder:   deps.Ladder,
		full:     deps.Full,
		noAddr:   deps.NoAddress,
		probes:   make(chan struct{}, maxProbes),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.counters == nil {
		s.counters = events.NewCounters()
	}
	if s.paused == nil {
		s.paused = func() bool { return false }
	}
	return s, nil
}

// Serve answers on the DHCP and PXE ports until ctx is cancelled, then
// closes both sockets and returns nil. It returns an error if a socket
// cannot be opened or fails for good. A Server serves once.
func (s *Server) Serve(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	dhcpSock, pxeSock := s.dhcpSock, s.pxeSock
	mode := "proxyDHCP serving"
	if s.full != nil {
		mode = "full DHCP serving: handing out addresses from " + s.full.Pool().String()
	}
	s.log.Info(mode, "interface", s.cfg.Interface, "server_ip", s.cfg.ServerIP,
		"dhcp_port", s.cfg.DHCPPort, "pxe_port", s.cfg.PXEPort, "link_layer", s.linkNote)
	if s.linkNote != "" && s.events != nil {
		s.events.Record(ctx, events.Event{Stage: events.StageServer, Detail: s.linkNote})
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		// Closing the sockets is what ends the blocked reads.
		<-gctx.Done()
		s.Close()
		return nil
	})
	// One reader per socket: Go serializes reads on a socket, so a second
	// reader only waits its turn, and each turn handed over costs a thread
	// wake-up (measured: more CPU per answer, not more answers).
	g.Go(func() error { return s.readLoop(gctx, dhcpSock, ServiceDHCP) })
	g.Go(func() error { return s.readLoop(gctx, pxeSock, ServicePXE) })
	var udp []*net.UDPConn
	for _, k := range []socket{dhcpSock, pxeSock} {
		if k.udp != nil {
			udp = append(udp, k.udp)
		}
	}
	g.Go(func() error { s.watchDrops(gctx, dropCheckInterval, udp...); return nil })
	return g.Wait()
}

// readLoop reads a batch of datagrams, decides each one's answer, sends
// the answers together and then logs and records them. One sequential loop
// per socket keeps up with any LAN: the work per packet is a parse, a
// decision and a share of one send, and the loop bounds the work a flood
// can cause.
func (s *Server) readLoop(ctx context.Context, sock socket, svc Service) error {
	var bc batchConn
	if sock.link != nil {
		bc = newLinkConn(sock.link, netip.AddrPortFrom(s.cfg.ServerIP, uint16(s.svcPort(svc))))
	} else {
		var err error
		if bc, err = newBatchConn(sock.udp, s.ifindex); err != nil {
			return fmt.Errorf("dhcp: %s socket: %w", svc, err)
		}
	}
	pkts := newDatagrams(readBatch)
	answers := make([]pendingReply, 0, readBatch)
	out := make([]outgoing, 0, readBatch)
	// The replies' bytes, one reused buffer per slot of the batch.
	encoded := make([][]byte, readBatch)
	for {
		n, err := bc.read(pkts)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("dhcp: %s socket closed: %w", svc, err)
			}
			// Transient (e.g. an ICMP error surfacing): note it and go on,
			// pausing so a persistent error cannot spin the CPU.
			s.counters.Inc("dhcp.read-error")
			s.log.Warn("reading DHCP socket", "service", svc.String(), "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		answers, out = answers[:0], out[:0]
		for _, p := range pkts[:n] {
			if p.drop != "" {
				s.counters.Inc("dhcp.received")
				s.counters.Inc(p.drop)
				if p.hw != nil && s.log.Enabled(ctx, slog.LevelDebug) {
					s.log.Debug("dropping packet", "mac", hwaddr.String(p.hw), "service", svc.String(), "counter", p.drop)
				}
				continue
			}
			if p.truncated {
				s.counters.Inc("dhcp.received")
				s.counters.Inc("dhcp.dropped.too-large")
				continue
			}
			slot := len(answers)
			if a, ok := s.decide(ctx, svc, p.buf[:p.n], p.src, encoded[slot][:0]); ok {
				encoded[slot] = a.data
				// Logged and recorded before it is sent, so that the
				// timeline never shows the client's next step first.
				s.answering(ctx, a)
				answers = append(answers, a)
				out = append(out, outgoing{data: a.data, dst: a.dst, hw: p.hw})
			}
		}
		s.sendAll(ctx, bc, answers, out)
	}
}

// sendAll sends a batch's answers (out[i] is answers[i] on the wire). A
// datagram the system refuses is skipped, counted and logged, and the rest
// still go; a broadcast refused for want of a route goes over the link
// layer instead (see fallBack).
func (s *Server) sendAll(ctx context.Context, bc batchConn, answers []pendingReply, out []outgoing) {
	for done := 0; done < len(out); {
		sent, err := bc.write(out[done:])
		for _, a := range answers[done : done+sent] {
			s.counters.Inc(sentCounter(a.log.svc, a.d.Reply))
		}
		done += sent
		if done < len(out) {
			if s.fallBack(ctx, answers[done], out[done], err) {
				s.counters.Inc(sentCounter(answers[done].log.svc, answers[done].d.Reply))
			} else {
				s.counters.Inc("dhcp.send-failed")
				answers[done].log.at(ctx, slog.LevelWarn, "sending the answer failed", "to", answers[done].dst.String(), "err", err)
			}
			done++
		}
	}
}

// sentCounter names the counter of answers sent, e.g. dhcp.sent.pxe-ack:
// constants for the answers pixie gives, so the per-packet path builds no
// string.
func sentCounter(svc Service, reply dhcpv4.MessageType) string {
	switch {
	case svc == ServiceDHCP && reply == dhcpv4.MessageTypeOffer:
		return "dhcp.sent.dhcp-offer"
	case svc == ServiceDHCP && reply == dhcpv4.MessageTypeAck:
		return "dhcp.sent.dhcp-ack"
	case svc == ServicePXE && reply == dhcpv4.MessageTypeAck:
		return "dhcp.sent.pxe-ack"
	case svc == ServiceDHCP && reply == dhcpv4.MessageTypeNak:
		return "dhcp.sent.dhcp-nak"
	}
	return "dhcp.sent." + svc.String() + "-" + verb(reply)
}

// dropCheckInterval is how often the kernel's drop count is read.
const dropCheckInterval = 5 * time.Second

// readBatch is how many packets one read may return; maxPacket is the
// largest DHCP packet read whole (RFC 2131's minimum is 576 bytes; options
// overloading and PXE clients stay far below this).
const (
	readBatch = 16
	maxPacket = 4096
)

// pendingReply is a reply decided on and not yet sent, with what logging and
// recording it needs once it has gone.
type pendingReply struct {
	data []byte
	dst  *net.UDPAddr
	log  packetLog
	d    Decision
	ip   string
	// detail, when set, is the boot event's detail instead of describe(d).
	detail string
}

// decide processes one received packet: it counts and logs it and returns
// the answer to send, if any, encoded into buf.
func (s *Server) decide(ctx context.Context, svc Service, pkt []byte, src *net.UDPAddr, buf []byte) (pendingReply, bool) {
	s.counters.Inc("dhcp.received")
	req, err := parsePacket(pkt)
	if err != nil {
		s.counters.Inc("dhcp.dropped.malformed")
		if s.log.Enabled(ctx, slog.LevelDebug) {
			s.log.Debug("dropping malformed packet", "service", svc.String(), "from", src.String(), "len", len(pkt), "err", err)
		}
		return pendingReply{}, false
	}
	mac := hwaddr.String(req.ClientHWAddr)
	log := packetLog{log: s.log, mac: mac, svc: svc, xid: req.TransactionID}
	if s.log.Enabled(ctx, slog.LevelDebug) {
		log.at(ctx, slog.LevelDebug, "received", "type", req.MessageType().String(), "from", src.String(),
			"vendor_class", req.ClassIdentifier(), // option 60
			"user_class", string(req.Options.Get(dhcpv4.OptionUserClassInformation)), // option 77
			"arch", fmt.Sprintf("%x", req.Options.Get(dhcpv4.OptionClientSystemArchitectureType)), // option 93
			"has_guid", req.Options.Has(dhcpv4.OptionClientMachineIdentifier), // option 97
			"has_175", req.Options.Has(dhcpv4.OptionEtherboot),
			"ciaddr", req.ClientIPAddr.String(), "giaddr", req.GatewayIPAddr.String())
	}

	paused := s.paused()
	if svc == ServiceDHCP && s.full != nil {
		return s.decideFull(ctx, req, src, buf, log, paused)
	}
	cfg := s.reply
	var climbed ladderChoice
	now := time.Now()
	if s.ladder != nil && !paused && len(req.ClientHWAddr) > 0 {
		climbed = s.ladder.choose(req, svc, mac, isIPXE(req), now)
		cfg.Loader, cfg.Pinned, cfg.PinnedBy = climbed.loader, climbed.pinned, climbed.pinnedBy
	}
	resp, d := Reply(req, svc, cfg)
	if climbed.reason != "" && s.events != nil {
		// Why this machine gets another loader now: before the offer's own
		// event, so the timeline reads in order.
		log.at(ctx, slog.LevelInfo, "loader ladder", "arch", d.Arch, "detail", climbed.reason)
		s.events.Record(ctx, events.Event{MAC: mac, Arch: d.Arch, Stage: events.StageDHCP, Detail: climbed.reason})
	}

	// A boot client's REQUEST to the LAN's DHCP server is ignored, but its
	// option 50 is the address it is about to use for TFTP: pass it on.
	ip := clientIP(req)
	if ip != nil && d.Class != "" && s.seen != nil {
		s.seen(req.ClientHWAddr, ip)
	}

	if !d.Ignored() && paused {
		resp, d.Reply, d.Reason = nil, dhcpv4.MessageTypeNone, ReasonPaused
	}
	if d.Ignored() {
		s.counters.Inc("dhcp.ignored." + d.Reason)
		level := slog.LevelDebug
		if strings.HasPrefix(d.Reason, ReasonNoFirmware) {
			// A machine wants to boot and pixie cannot serve it: that is
			// for the person running pixie to see.
			level = slog.LevelWarn
		}
		log.at(ctx, level, "ignoring packet", "reason", d.Reason, "arch", d.Arch, "type", req.MessageType().String())
		return pendingReply{}, false
	}

	dst := Destination(req, svc, src, s.cfg.ClientPort)
	if dst.IP.Equal(net.IPv4bcast) && s.cfg.Interface == "" {
		// No interface to pin the broadcast to: it would leave through the
		// default route, onto a network that is not ours.
		s.counters.Inc("dhcp.send-failed")
		log.at(ctx, slog.LevelWarn, "not broadcasting a reply without an interface", "arch", d.Arch)
		return pendingReply{}, false
	}
	if s.ladder != nil {
		s.ladder.offered(mac, d, now, req.TransactionID, svc == ServiceDHCP && req.MessageType() == dhcpv4.MessageTypeDiscover)
	}
	a := pendingReply{data: appendPacket(buf, resp), dst: dst, log: log, d: d}
	if ip != nil {
		a.ip = ip.String()
	}
	return a, true
}

// answering logs and records an answer about to be sent: a new boot step
// or a retransmit at Info, a repeat within a second at Debug (see repeats).
func (s *Server) answering(ctx context.Context, a pendingReply) {
	step := stepKey{mac: a.log.mac, svc: a.log.svc, reply: a.d.Reply, file: a.d.BootFile, class: a.d.Class, ipxe: a.d.IPXE}
	logIt, record := s.repeats.check(step, a.log.xid, time.Now())
	level := slog.LevelInfo
	if !logIt {
		level = slog.LevelDebug
	}
	a.log.answered(ctx, level, a)
	if s.events != nil && record {
		detail := a.detail
		if detail == "" {
			detail = describe(a.d)
		}
		s.events.Record(ctx, events.Event{
			MAC:    a.log.mac,
			IP:     a.ip,
			Arch:   a.d.Arch,
			Stage:  a.log.svc.Stage(),
			Detail: detail,
		})
		if s.noAddr != nil && s.full == nil && a.log.svc == ServiceDHCP && a.d.Reply == dhcpv4.MessageTypeOffer {
			if why := s.noAddr(); why != "" {
				s.events.Record(ctx, events.Event{MAC: a.log.mac, Arch: a.d.Arch, Stage: events.StageDHCP, Detail: why})
			}
		}
	}
}

// packetLog logs lines about one packet with its MAC, service and
// transaction ID. It builds nothing unless the line is logged: most
// packets on a LAN are ordinary DHCP that pixie ignores at Debug level.
type packetLog struct {
	log *slog.Logger
	mac string
	svc Service
	xid dhcpv4.TransactionID
}

func (l packetLog) at(ctx context.Context, level slog.Level, msg string, args ...any) {
	if !l.log.Enabled(ctx, level) {
		return
	}
	l.log.Log(ctx, level, msg, append([]any{"mac", l.mac, "service", l.svc.String(), "xid", l.xid.String()}, args...)...)
}

// answered logs the line of an answer. It is the one line logged per
// answered packet, so it is built without the variadic path's allocations.
func (l packetLog) answered(ctx context.Context, level slog.Level, a pendingReply) {
	if !l.log.Enabled(ctx, level) {
		return
	}
	attrs := [...]slog.Attr{
		slog.String("mac", l.mac), slog.String("service", l.svc.String()), slog.String("xid", l.xid.String()),
		slog.String("type", a.d.Reply.String()), slog.String("arch", a.d.Arch), slog.String("file", a.d.BootFile),
		slog.Bool("ipxe", a.d.IPXE), slog.String("class", a.d.Class), slog.String("to", a.dst.String()), slog.String("ip", a.ip),
	}
	l.log.LogAttrs(ctx, level, "answered boot request", attrs[:]...)
}
