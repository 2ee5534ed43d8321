package dhcp

import (
	"net/netip"
	"slices"
	"time"
)

// LeaseState is where an address stands in full-DHCP mode.
type LeaseState string

const (
	// LeaseOffered: offered to a MAC that has not REQUESTed it yet. Held
	// for offerHold only, so DISCOVERs that go nowhere free the address
	// again quickly.
	LeaseOffered LeaseState = "offered"
	// LeaseBound: ACKed, the MAC uses it until Expires.
	LeaseBound LeaseState = "bound"
	// LeaseReleased: the MAC gave it back (RELEASE) or let it expire. The
	// MAC is remembered so it gets the same address again while nobody
	// else took it.
	LeaseReleased LeaseState = "released"
	// LeaseHeld: set aside until Expires, owned by nobody: a client
	// DECLINEd it, or something answered the probe before it was offered.
	LeaseHeld LeaseState = "held"
)

// Lease is one address of the lease table.
type Lease struct {
	MAC      string     `json:"mac,omitempty"`
	IP       netip.Addr `json:"ip"`
	State    LeaseState `json:"state"`
	Expires  time.Time  `json:"expires"`
	Hostname string     `json:"hostname,omitempty"`
}

// Live reports whether the lease keeps its address from anyone else at now.
func (l Lease) Live(now time.Time) bool {
	return l.State != LeaseReleased && now.Before(l.Expires)
}

// Reservation is a fixed address for one MAC (`pixie machines set MAC
// --ip`). In full-DHCP mode the MAC always gets it; Gateway and DNS, when
// set, replace the server's router and DNS options for it.
type Reservation struct {
	MAC     string
	IP      netip.Addr
	Prefix  int // 0: the pool's subnet
	Gateway netip.Addr
	DNS     []netip.Addr
}

// LeaseTable is full-DHCP mode's in-memory lease state: every address that
// was ever offered (at most the pool's size plus the reservations) and the
// reservations. DecideFull reads it; Apply changes it. It is not safe for
// concurrent use: the server's one read loop owns it.
type LeaseTable struct {
	pool       Pool
	byIP       map[netip.Addr]*Lease
	byMAC      map[string]*Lease
	reserved   map[string]Reservation
	reservedIP map[netip.Addr]string
	// cursor is where the search for a never-used address starts, so
	// successive offers walk the pool instead of rescanning its start.
	cursor int
}

// NewLeaseTable returns a table over pool holding leases (as loaded from
// the store; entries outside the pool that are no reservation are dropped)
// and reservations.
func NewLeaseTable(pool Pool, leases []Lease, reservations []Reservation) *LeaseTable {
	t := &LeaseTable{
		pool:       pool,
		byIP:       make(map[netip.Addr]*Lease, len(leases)),
		byMAC:      make(map[string]*Lease, len(leases)),
		reserved:   make(map[string]Reservation, len(reservations)),
		reservedIP: make(map[netip.Addr]string, len(reservations)),
	}
	t.SetReservations(reservations)
	for _, l := range leases {
		if !pool.Contains(l.IP) && t.reservedIP[l.IP] != l.MAC {
			continue
		}
		if old, ok := t.byMAC[l.MAC]; ok && l.MAC != "" && old.Expires.After(l.Expires) {
			continue
		}
		t.put(l)
	}
	return t
}

// SetReservations replaces the reservations.
func (t *LeaseTable) SetReservations(rs []Reservation) {
	clear(t.reserved)
	clear(t.reservedIP)
	for _, r := range rs {
		t.reserved[r.MAC] = r
		t.reservedIP[r.IP] = r.MAC
	}
}

// Pool is the table's pool.
func (t *LeaseTable) Pool() Pool { return t.pool }

// ByMAC returns the MAC's lease, in any state.
func (t *LeaseTable) ByMAC(mac string) (Lease, bool) {
	l, ok := t.byMAC[mac]
	if !ok {
		return Lease{}, false
	}
	return *l, true
}

// ByIP returns the lease of an address, in any state.
func (t *LeaseTable) ByIP(ip netip.Addr) (Lease, bool) {
	l, ok := t.byIP[ip]
	if !ok {
		return Lease{}, false
	}
	return *l, true
}

// Reservation returns the MAC's reservation.
func (t *LeaseTable) Reservation(mac string) (Reservation, bool) {
	r, ok := t.reserved[mac]
	return r, ok
}

// ReservedFor returns the MAC an address is reserved for, "" for none.
func (t *LeaseTable) ReservedFor(ip netip.Addr) string { return t.reservedIP[ip] }

// Free picks an address of the pool for a MAC that has none: a never-used
// one first (fresh: probe it before offering), else the one whose lease
// ended longest ago. ok is false when every address is live: the pool is
// exhausted. The scan is linear in the pool size (at most MaxPoolSize).
func (t *LeaseTable) Free(now time.Time) (ip netip.Addr, fresh, ok bool) {
	n := span(t.pool.First, t.pool.Last)
	if !t.pool.First.IsValid() || n <= 0 {
		return netip.Addr{}, false, false
	}
	var best *Lease
	for i := range n {
		a := addN(t.pool.First, (t.cursor+i)%n)
		if a == t.pool.Server || t.reservedIP[a] != "" {
			continue
		}
		l, used := t.byIP[a]
		if !used {
			return a, true, true
		}
		if !l.Live(now) && (best == nil || l.Expires.Before(best.Expires)) {
			best = l
		}
	}
	if best == nil {
		return netip.Addr{}, false, false
	}
	return best.IP, false, true
}

// Apply records a decision's change of the table.
func (t *LeaseTable) Apply(c LeaseChange) {
	switch c.Kind {
	case ChangeNone:
		return
	case ChangeHold:
		// Nobody owns a held address; whoever was offered it loses it.
		c.Lease.MAC = ""
		c.Lease.State = LeaseHeld
	}
	t.put(c.Lease)
	if c.Kind == ChangeOffer || c.Kind == ChangeBind {
		if n := span(t.pool.First, t.pool.Last); n > 0 && t.pool.Contains(c.Lease.IP) {
			t.cursor = (int(u32(c.Lease.IP)-u32(t.pool.First)) + 1) % n
		}
	}
}

// put stores l as its address's lease, taking the address from any other
// MAC and the MAC from any other address.
func (t *LeaseTable) put(l Lease) {
	if old, ok := t.byIP[l.IP]; ok && old.MAC != "" && old.MAC != l.MAC && t.byMAC[old.MAC] == old {
		delete(t.byMAC, old.MAC)
	}
	if l.MAC != "" {
		if old, ok := t.byMAC[l.MAC]; ok && old.IP != l.IP {
			// The MAC moves: its old address goes back to the pool as
			// used (not fresh), owned by nobody.
			old.MAC, old.State = "", LeaseReleased
		}
	}
	p := &l
	t.byIP[l.IP] = p
	if l.MAC != "" {
		t.byMAC[l.MAC] = p
	}
}

// Leases lists the table by address.
func (t *LeaseTable) Leases() []Lease {
	out := make([]Lease, 0, len(t.byIP))
	for _, l := range t.byIP {
		out = append(out, *l)
	}
	slices.SortFunc(out, func(a, b Lease) int { return a.IP.Compare(b.IP) })
	return out
}

// Used is how many addresses of the pool are live at now.
func (t *LeaseTable) Used(now time.Time) int {
	n := 0
	for ip, l := range t.byIP {
		if t.pool.Contains(ip) && l.Live(now) {
			n++
		}
	}
	return n
}

// Len is how many addresses the table holds a record for: bounded by the
// pool's size plus the reservations, whatever the number of MACs seen.
func (t *LeaseTable) Len() int { return len(t.byIP) }
