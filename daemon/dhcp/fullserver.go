package dhcp

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/pixie-boot/pixie/daemon/events"
)

// LeaseStore keeps leases across restarts (the daemon's SQLite store
// behind an adapter).
type LeaseStore interface {
	SaveLease(ctx context.Context, l Lease) error
}

// FullOptions are full-DHCP mode's settings (`pixie serve --dhcp ...`).
type FullOptions struct {
	LeaseTime time.Duration
	Router    []netip.Addr
	DNS       []netip.Addr
}

// FullMode is the state full-DHCP mode adds to a Server: the lease table,
// whether a rival server was seen, and where leases are kept. The read
// loop and the control API share it, so it locks.
type FullMode struct {
	mu    sync.Mutex
	table *LeaseTable
	opts  FullOptions
	store LeaseStore
	rival string // why addresses are not handed out now, "" when they are
	// exhaustedNoted rate-limits the pool-exhausted event.
	exhaustedNoted time.Time
	now            func() time.Time
}

// NewFullMode returns full-DHCP state over pool, starting from the stored
// leases, with the machines' reservations.
func NewFullMode(pool Pool, leases []Lease, reservations []Reservation, opts FullOptions, store LeaseStore) *FullMode {
	if opts.LeaseTime <= 0 {
		opts.LeaseTime = DefaultLeaseTime
	}
	return &FullMode{table: NewLeaseTable(pool, leases, reservations), opts: opts, store: store, now: time.Now}
}

// SetReservations replaces the reservations (a machine was saved).
func (f *FullMode) SetReservations(rs []Reservation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.table.SetReservations(rs)
}

// SetRival records that another DHCP server answers on the link (why is
// what status says), or, with "", that it is gone. It reports whether that
// changed anything.
func (f *FullMode) SetRival(why string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	changed := f.rival != why
	f.rival = why
	return changed
}

// Rival is why no addresses are handed out now, "" when they are.
func (f *FullMode) Rival() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rival
}

// FullStatus is full-DHCP mode as status shows it.
type FullStatus struct {
	Pool      string
	PoolSize  int
	Used      int
	LeaseTime time.Duration
	Rival     string
}

// Status reports the pool and how much of it is in use.
func (f *FullMode) Status() FullStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.table.Pool()
	return FullStatus{Pool: p.String(), PoolSize: p.Size(), Used: f.table.Used(f.now()), LeaseTime: f.opts.LeaseTime, Rival: f.rival}
}

// Leases lists the lease table by address.
func (f *FullMode) Leases() []Lease {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.table.Leases()
}

// Pool is the pool addresses are handed out from.
func (f *FullMode) Pool() Pool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.table.Pool()
}

// decide runs DecideFull against the table and applies its change. Binds,
// releases and holds are stored before the reply goes out, so a restart
// right after an ACK still knows the lease; offers are not stored (they
// last a minute, and a flood of DISCOVERs must cost no disk writes).
func (f *FullMode) decide(ctx context.Context, req *dhcpv4.DHCPv4, boot ReplyConfig, log *slog.Logger) (*dhcpv4.DHCPv4, FullDecision, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	cfg := FullConfig{Boot: boot, LeaseTime: f.opts.LeaseTime, Router: f.opts.Router, DNS: f.opts.DNS, Rival: f.rival != ""}
	resp, d := DecideFull(req, f.table, cfg, now)
	f.table.Apply(d.Change)
	if k := d.Change.Kind; f.store != nil && k != ChangeNone && k != ChangeOffer {
		if err := f.store.SaveLease(ctx, f.changed(d.Change)); err != nil {
			// The lease stands in memory; a restart would forget it.
			log.Warn("storing a lease failed: a restart of pixie would forget it", "ip", d.Change.Lease.IP.String(), "err", err)
		}
	}
	var note string
	if d.Reason == ReasonPoolExhausted && now.Sub(f.exhaustedNoted) > time.Minute {
		f.exhaustedNoted = now
		p := f.table.Pool()
		note = fmt.Sprintf("the DHCP pool %s is exhausted: all %d addresses are leased; widen it with --dhcp-range or shorten --dhcp-lease-time", p, p.Size())
	}
	return resp, d, note
}

// hold sets aside an address something answered the probe for.
func (f *FullMode) hold(ctx context.Context, ip netip.Addr, log *slog.Logger) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := LeaseChange{Kind: ChangeHold, Lease: Lease{IP: ip, State: LeaseHeld, Expires: f.now().Add(heldFor)}}
	f.table.Apply(c)
	if f.store != nil {
		if err := f.store.SaveLease(ctx, f.changed(c)); err != nil {
			log.Warn("storing a held address failed", "ip", ip.String(), "err", err)
		}
	}
	return fmt.Sprintf("%s answered an ARP probe: another host uses it, so pixie set it aside for %s and offers another address", ip, heldFor)
}

// changed is the table's record of the address a change touched.
func (f *FullMode) changed(c LeaseChange) Lease {
	if l, ok := f.table.ByIP(c.Lease.IP); ok {
		return l
	}
	return c.Lease
}

// decideFull is decide's path for port 67 in full-DHCP mode.
func (s *Server) decideFull(ctx context.Context, req *dhcpv4.DHCPv4, src *net.UDPAddr, buf []byte, log packetLog, paused bool) (pendingReply, bool) {
	cfg := s.reply
	now := time.Now()
	mac := log.mac
	if s.ladder != nil && !paused {
		c := s.ladder.choose(req, ServiceDHCP, mac, isIPXE(req), now)
		cfg.Loader, cfg.Pinned, cfg.PinnedBy = c.loader, c.pinned, c.pinnedBy
	}
	if paused {
		// Paused stops network boot, not addresses: machines on the link
		// still need theirs. No firmware: no boot fields.
		cfg.Firmware = noFirmware{}
		cfg.EFIFile = ""
	}
	resp, d, note := s.full.decide(ctx, req, cfg, s.log)
	if note != "" {
		s.log.Warn(note, "interface", s.cfg.Interface)
		if s.events != nil {
			s.events.Record(ctx, events.Event{Stage: events.StageServer, Detail: note})
		}
	}
	if d.Ignored() {
		reason := d.Reason
		if reason == "" {
			reason = d.Exchange // DECLINE, RELEASE: handled, nothing to send
		}
		s.counters.Inc("dhcp.full." + reason)
		level := slog.LevelDebug
		if d.Exchange == ExchangeDecline || d.Exchange == ExchangeRelease || d.Reason == ReasonPoolExhausted {
			level = slog.LevelInfo
		}
		log.at(ctx, level, "no DHCP reply", "exchange", d.Exchange, "reason", d.Reason, "ip", d.Change.Lease.IP.String())
		if d.Exchange == ExchangeDecline && d.Change.Kind == ChangeHold && s.events != nil {
			s.events.Record(ctx, events.Event{MAC: mac, IP: d.Change.Lease.IP.String(), Stage: events.StageDHCP,
				Detail: "declined " + d.Change.Lease.IP.String() + ": the machine found it in use; set aside"})
		}
		return pendingReply{}, false
	}
	dst := Destination(req, ServiceDHCP, src, s.cfg.ClientPort)
	if d.Reply == dhcpv4.MessageTypeNak && req.GatewayIPAddr.To4().IsUnspecified() {
		// RFC 2131 4.1: a NAK is broadcast, the client may have no address.
		dst = &net.UDPAddr{IP: net.IPv4bcast, Port: s.cfg.ClientPort}
	}
	if dst.IP.Equal(net.IPv4bcast) && s.cfg.Interface == "" {
		s.counters.Inc("dhcp.send-failed")
		log.at(ctx, slog.LevelWarn, "not broadcasting a reply without an interface")
		return pendingReply{}, false
	}
	if d.Reply == dhcpv4.MessageTypeAck && d.IP.IsValid() && s.seen != nil {
		s.seen(req.ClientHWAddr, net.IP(d.IP.AsSlice()))
	}
	if s.ladder != nil && d.Class != "" {
		s.ladder.offered(mac, d.Decision, now, req.TransactionID, req.MessageType() == dhcpv4.MessageTypeDiscover)
	}
	a := pendingReply{dst: dst, log: log, d: d.Decision, detail: describeFull(d)}
	if d.IP.IsValid() {
		a.ip = d.IP.String()
	} else if ip := clientIP(req); ip != nil {
		a.ip = ip.String()
	}
	if d.Fresh && s.prober != nil && s.dhcpSock.udp != nil {
		// A never-used address is probed before it is offered; the
		// probe must not hold up the loop, so the offer goes out from
		// its own goroutine, in its own buffer.
		a.data = appendPacket(nil, resp)
		select {
		case s.probes <- struct{}{}:
			go s.probeThenOffer(ctx, a, d.IP)
			return pendingReply{}, false
		default:
			// Too many probes at once (a flood of new MACs): offer
			// unprobed rather than queue; a DECLINE still sets an
			// address in use aside.
			s.counters.Inc("dhcp.full.probe-busy")
		}
	}
	a.data = appendPacket(buf, resp)
	return a, true
}

// probeWait is how long an ARP probe waits for an answer: a host on the
// same link answers within milliseconds.
const probeWait = 300 * time.Millisecond

// maxProbes bounds the probes waiting or in flight; they run one at a
// time on the probe socket.
const maxProbes = 4

// probeThenOffer ARP-probes a never-used address and sends the offer if
// nobody answered. An answered address is set aside and no offer goes:
// the client's next DISCOVER gets another address.
func (s *Server) probeThenOffer(ctx context.Context, a pendingReply, ip netip.Addr) {
	defer func() { <-s.probes }()
	used, err := s.prober.probe(ctx, ip, probeWait)
	if err != nil {
		s.counters.Inc("dhcp.full.probe-failed")
		a.log.at(ctx, slog.LevelDebug, "ARP probe failed; offering unprobed", "ip", ip.String(), "err", err)
	}
	if used {
		s.counters.Inc("dhcp.full.probe-answered")
		note := s.full.hold(ctx, ip, s.log)
		a.log.at(ctx, slog.LevelWarn, note)
		if s.events != nil {
			s.events.Record(ctx, events.Event{MAC: a.log.mac, IP: ip.String(), Stage: events.StageDHCP, Detail: note})
		}
		return
	}
	s.answering(ctx, a)
	if _, err := s.dhcpSock.udp.WriteToUDP(a.data, a.dst); err != nil {
		s.counters.Inc("dhcp.send-failed")
		a.log.at(ctx, slog.LevelWarn, "sending the answer failed", "to", a.dst.String(), "err", err)
		return
	}
	s.counters.Inc(sentCounter(ServiceDHCP, a.d.Reply))
}

// noFirmware has no file: a paused full-DHCP server gives addresses only.
type noFirmware struct{}

func (noFirmware) Has(string) bool { return false }

// describeFull is the event detail of a full-DHCP answer: "offer
// 10.0.0.130 undionly.kpxe", "ack 10.0.0.130 (renewing)", "nak: why".
func describeFull(d FullDecision) string {
	if d.Proxy {
		return describe(d.Decision) + " (proxy: " + ReasonRival + ")"
	}
	if d.Reply == dhcpv4.MessageTypeNak {
		return "nak (" + d.Exchange + "): " + d.Reason
	}
	s := verb(d.Reply)
	if d.IP.IsValid() {
		s += " " + d.IP.String()
	}
	if d.BootFile != "" {
		s += " " + d.BootFile
		if d.IPXE {
			s += " (iPXE)"
		}
	}
	if d.Exchange != ExchangeDiscover && d.Exchange != ExchangeSelecting {
		s += " (" + d.Exchange + ")"
	}
	return s
}
