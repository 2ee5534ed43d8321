package dhcp

import (
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/pixie-boot/pixie/daemon/hwaddr"
)

// Full-DHCP mode defaults.
const (
	// DefaultLeaseTime is an hour: a machine that is reinstalled, renamed
	// or carried away gives its address back within the hour on a small
	// lab pool, while a booted machine renews only every half hour (T1),
	// a negligible load. An OS install outlives it without noticing, since
	// renewals go on while the machine is up.
	DefaultLeaseTime = time.Hour
	// offerHold is how long an offer keeps its address for a MAC that has
	// not REQUESTed it: firmware requests within seconds, and a flood of
	// DISCOVERs from MACs that never follow up frees the pool again soon.
	offerHold = time.Minute
	// heldFor is how long a declined or probe-answered address is set
	// aside before it is tried again.
	heldFor = 10 * time.Minute
)

// Reasons a full-DHCP request gets no address, as FullDecision.Reason.
const (
	ReasonPoolExhausted = "pool-exhausted" // every address of the pool is live
	ReasonRival         = "rival-server"   // another DHCP server is on the link: no new addresses
	ReasonNotOurOffer   = "not-our-offer"  // REQUEST naming another server: the client took its offer
	ReasonNoLease       = "no-lease"       // DECLINE or RELEASE of an address the MAC does not hold
	ReasonNoAddress     = "no-address"     // INFORM without ciaddr
)

// Exchanges of RFC 2131, as FullDecision.Exchange.
const (
	ExchangeDiscover   = "discover"
	ExchangeSelecting  = "selecting"   // REQUEST with a server id: taking an offer
	ExchangeInitReboot = "init-reboot" // REQUEST with option 50, no server id, no ciaddr
	ExchangeRenewing   = "renewing"    // REQUEST with ciaddr (unicast renewal or broadcast rebinding)
	ExchangeDecline    = "decline"
	ExchangeRelease    = "release"
	ExchangeInform     = "inform"
)

// FullConfig is what DecideFull needs beyond the lease table.
type FullConfig struct {
	// Boot is the proxy configuration: PXE clients get the same boot
	// fields in the address reply as a proxy offer would carry.
	Boot ReplyConfig
	// LeaseTime is the lease granted (DefaultLeaseTime when zero).
	LeaseTime time.Duration
	// Router and DNS are options 3 and 6. Empty by default: on a cable
	// from a laptop there is no router, and a default route through
	// nothing would break the machine's other links.
	Router []netip.Addr
	DNS    []netip.Addr
	// Rival is set while another DHCP server answers on the link: pixie
	// then hands out no new address, answers PXE clients as a proxy, and
	// only renews leases it already gave.
	Rival bool
}

// ChangeKind is what a decision does to the lease table.
type ChangeKind uint8

const (
	ChangeNone    ChangeKind = iota
	ChangeOffer              // the address is offered to the MAC (held for offerHold)
	ChangeBind               // the MAC holds the address until Lease.Expires
	ChangeRelease            // the MAC gave the address back
	ChangeHold               // the address is set aside (DECLINE)
	ChangeForget             // a REQUEST for another server: our offer is void
)

// LeaseChange is the table change of a decision: Lease is the address's
// new record. The server applies it to the table and the store.
type LeaseChange struct {
	Kind  ChangeKind
	Lease Lease
}

// FullDecision is DecideFull's verdict.
type FullDecision struct {
	// Decision holds the reply type (Offer, Ack, Nak or None), the reason
	// for no reply and, for PXE clients, the boot fields.
	Decision
	// Exchange is the RFC 2131 exchange the request belongs to.
	Exchange string
	// IP is the address handed out (yiaddr), invalid for none.
	IP netip.Addr
	// Change is the lease table change, applied whether or not there is
	// a reply (DECLINE and RELEASE have none).
	Change LeaseChange
	// Fresh: IP was never handed out before, so the server probes it
	// (ARP) before sending the offer.
	Fresh bool
	// Proxy: the answer is a plain proxy reply (a rival server is up).
	Proxy bool
}

// DecideFull decides full-DHCP mode's answer to a request on port 67 from
// the lease table at now. It does no I/O and does not change the table:
// the change is in the decision. Any client on the link is answered, PXE
// or not, so a booted OS's own DHCP client gets the same address.
func DecideFull(req *dhcpv4.DHCPv4, t *LeaseTable, cfg FullConfig, now time.Time) (*dhcpv4.DHCPv4, FullDecision) {
	var d FullDecision
	none := func(reason string) (*dhcpv4.DHCPv4, FullDecision) {
		d.Reply, d.Reason = dhcpv4.MessageTypeNone, reason
		return nil, d
	}
	if req.OpCode != dhcpv4.OpcodeBootRequest {
		return none(ReasonNotBootRequest)
	}
	if len(req.ClientHWAddr) == 0 {
		return none(ReasonNoMAC)
	}
	if cfg.LeaseTime <= 0 {
		cfg.LeaseTime = DefaultLeaseTime
	}
	mac := hwaddr.String(req.ClientHWAddr)
	server := cfg.Boot.ServerIP
	sid, _ := netip.AddrFromSlice(req.ServerIdentifier().To4())
	requested, _ := netip.AddrFromSlice(req.RequestedIPAddress().To4())
	ciaddr, _ := netip.AddrFromSlice(req.ClientIPAddr.To4())
	if ciaddr.IsUnspecified() {
		ciaddr = netip.Addr{}
	}
	lease, has := t.ByMAC(mac)
	res, reserved := t.Reservation(mac)
	hostname := req.HostName()

	switch req.MessageType() {
	case dhcpv4.MessageTypeDiscover:
		d.Exchange = ExchangeDiscover
		if cfg.Rival {
			return proxyFallback(req, cfg, d)
		}
		ip, fresh, ok := pick(t, mac, lease, has, res, reserved, requested, now)
		if !ok {
			return none(ReasonPoolExhausted)
		}
		d.IP, d.Fresh, d.Reply = ip, fresh, dhcpv4.MessageTypeOffer
		// An offer to a MAC that already holds the address bound must not
		// shorten its lease.
		if !(has && lease.IP == ip && lease.State == LeaseBound && lease.Live(now)) {
			d.Change = LeaseChange{Kind: ChangeOffer, Lease: Lease{MAC: mac, IP: ip, State: LeaseOffered, Expires: now.Add(offerHold), Hostname: hostname}}
		}

	case dhcpv4.MessageTypeRequest:
		switch {
		case sid.IsValid():
			d.Exchange = ExchangeSelecting
			if sid != server {
				// The client took another server's offer: ours is void.
				if has && lease.State == LeaseOffered {
					lease.State, lease.Expires = LeaseReleased, now
					d.Change = LeaseChange{Kind: ChangeForget, Lease: lease}
				}
				return noneKeep(&d, ReasonNotOurOffer)
			}
			if cfg.Rival {
				return proxyFallback(req, cfg, d)
			}
			if !has || lease.IP != requested || !(lease.State == LeaseOffered || lease.State == LeaseBound) {
				return nak(req, cfg, d, "pixie did not offer that address to this machine")
			}
			d.IP = requested
		default:
			d.Exchange = ExchangeInitReboot
			want := requested
			if ciaddr.IsValid() {
				d.Exchange, want = ExchangeRenewing, ciaddr
			}
			if !want.IsValid() {
				return none(ReasonUnsupportedMessageType)
			}
			if cfg.Rival && !(has && lease.IP == want && lease.State == LeaseBound && lease.Live(now)) {
				// Only leases pixie already gave are kept up while
				// another server is on the link.
				return none(ReasonRival)
			}
			if msg := verify(t, mac, want, lease, has, res, reserved, now); msg != "" {
				return nak(req, cfg, d, msg)
			}
			d.IP = want
		}
		d.Reply = dhcpv4.MessageTypeAck
		d.Change = LeaseChange{Kind: ChangeBind, Lease: Lease{MAC: mac, IP: d.IP, State: LeaseBound, Expires: now.Add(cfg.LeaseTime), Hostname: hostname}}

	case dhcpv4.MessageTypeDecline:
		d.Exchange = ExchangeDecline
		// RFC 2131 4.3.3: the client found the address in use; set it
		// aside so nobody else is offered it either.
		if sid.IsValid() && sid != server || !has || lease.IP != requested {
			return none(ReasonNoLease)
		}
		d.Change = LeaseChange{Kind: ChangeHold, Lease: Lease{IP: requested, State: LeaseHeld, Expires: now.Add(heldFor)}}
		return noneKeep(&d, "")

	case dhcpv4.MessageTypeRelease:
		d.Exchange = ExchangeRelease
		if !has || lease.IP != ciaddr {
			return none(ReasonNoLease)
		}
		lease.State, lease.Expires = LeaseReleased, now
		d.Change = LeaseChange{Kind: ChangeRelease, Lease: lease}
		return noneKeep(&d, "")

	case dhcpv4.MessageTypeInform:
		d.Exchange = ExchangeInform
		// RFC 2131 3.4: the client has an address; it wants the options.
		if !ciaddr.IsValid() {
			return none(ReasonNoAddress)
		}
		d.Reply = dhcpv4.MessageTypeAck
		d.IP = netip.Addr{}
		return buildFull(req, cfg, &d, ciaddr, reservedOr(res, reserved, ciaddr), t.Pool()), d

	default:
		return none(ReasonUnsupportedMessageType)
	}
	return buildFull(req, cfg, &d, netip.Addr{}, reservedOr(res, reserved, d.IP), t.Pool()), d
}

// noneKeep is a decision with no reply that keeps its table change.
func noneKeep(d *FullDecision, reason string) (*dhcpv4.DHCPv4, FullDecision) {
	d.Reply, d.Reason = dhcpv4.MessageTypeNone, reason
	return nil, *d
}

// pick chooses the address to offer a MAC: its reservation, else the
// address it holds or held (while nobody else took it), else the one it
// asks for if free, else a free one of the pool.
func pick(t *LeaseTable, mac string, lease Lease, has bool, res Reservation, reserved bool, requested netip.Addr, now time.Time) (netip.Addr, bool, bool) {
	if reserved {
		return res.IP, false, true
	}
	if has && t.pool.Contains(lease.IP) {
		return lease.IP, false, true
	}
	if requested.IsValid() && t.pool.Contains(requested) && t.ReservedFor(requested) == "" {
		if l, ok := t.ByIP(requested); !ok || !l.Live(now) {
			return requested, !ok, true
		}
	}
	return t.Free(now)
}

// verify checks a client's claim to an address (init-reboot, renewing,
// rebinding) and returns why it is wrong, "" when pixie ACKs it. pixie is
// the only server on the link (it refuses to start beside another one), so
// it answers with authority: a free pool address a client remembers (say,
// from before the lease table was lost) is confirmed, and anything else
// it has no lease for is NAKed so the client starts over at once.
func verify(t *LeaseTable, mac string, want netip.Addr, lease Lease, has bool, res Reservation, reserved bool, now time.Time) string {
	if reserved {
		if want != res.IP {
			return "this machine's address is reserved: " + res.IP.String()
		}
		return ""
	}
	if owner := t.ReservedFor(want); owner != "" {
		return want.String() + " is reserved for another machine"
	}
	if has && lease.IP == want {
		if lease.State == LeaseHeld {
			return want.String() + " was declined and is set aside"
		}
		return ""
	}
	if !t.pool.Contains(want) {
		return want.String() + " is not an address pixie hands out on this link"
	}
	if l, ok := t.ByIP(want); ok && l.Live(now) {
		return want.String() + " is leased to another machine"
	}
	return ""
}

// reservedOr returns the reservation when it is for ip.
func reservedOr(res Reservation, reserved bool, ip netip.Addr) *Reservation {
	if reserved && res.IP == ip {
		return &res
	}
	return nil
}

// proxyFallback answers as proxy mode does: no address, only boot fields.
func proxyFallback(req *dhcpv4.DHCPv4, cfg FullConfig, d FullDecision) (*dhcpv4.DHCPv4, FullDecision) {
	resp, pd := Reply(req, ServiceDHCP, cfg.Boot)
	d.Decision, d.Proxy = pd, true
	if pd.Ignored() {
		d.Reason = ReasonRival
	}
	return resp, d
}
