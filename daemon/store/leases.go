package store

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/pixie-boot/pixie/daemon/hwaddr"
)

// Lease is one address of full-DHCP mode's lease table as stored: one row
// per address, so a flood of MACs cannot grow the table past the pool.
type Lease struct {
	IP       string    `json:"ip"`
	MAC      string    `json:"mac,omitempty"` // empty for an address set aside (declined)
	State    string    `json:"state"`         // offered, bound, released, held
	Expires  time.Time `json:"expires"`
	Hostname string    `json:"hostname,omitempty"`
	Updated  time.Time `json:"updated"`
}

func validLeaseState(s string) bool {
	switch s {
	case "offered", "bound", "released", "held":
		return true
	}
	return false
}

// Leases lists every stored lease by address.
func (s *Store) Leases(ctx context.Context) ([]Lease, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT ip, mac, state, expires_at, hostname, updated_at FROM leases`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Lease{}
	for rows.Next() {
		var l Lease
		var exp, upd int64
		if err := rows.Scan(&l.IP, &l.MAC, &l.State, &exp, &l.Hostname, &upd); err != nil {
			return nil, err
		}
		l.Expires, l.Updated = time.Unix(0, exp).UTC(), time.Unix(0, upd).UTC()
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// By address, numerically: SQLite would sort "10.0.0.10" before "10.0.0.9".
	sortByAddr(out)
	return out, nil
}

// PutLease stores the lease of l.IP, replacing what that address had.
func (s *Store) PutLease(ctx context.Context, l Lease) error {
	a, err := netip.ParseAddr(l.IP)
	if err != nil || !a.Is4() {
		return fmt.Errorf("%w: lease address %q is not an IPv4 address", ErrInvalid, l.IP)
	}
	if l.MAC != "" {
		if l.MAC, err = hwaddr.Parse(l.MAC); err != nil {
			return fmt.Errorf("%w: lease of %s: %v", ErrInvalid, l.IP, err)
		}
	}
	if !validLeaseState(l.State) {
		return fmt.Errorf("%w: lease state %q: want offered, bound, released or held", ErrInvalid, l.State)
	}
	s.hotWrites.Lock()
	defer s.hotWrites.Unlock()
	_, err = s.db.ExecContext(ctx, `INSERT INTO leases(ip, mac, state, expires_at, hostname, updated_at)
		VALUES(?, ?, ?, ?, ?, ?)
		ON CONFLICT(ip) DO UPDATE SET mac = excluded.mac, state = excluded.state,
			expires_at = excluded.expires_at, hostname = excluded.hostname, updated_at = excluded.updated_at`,
		a.String(), l.MAC, l.State, l.Expires.UnixNano(), l.Hostname, time.Now().UnixNano())
	return diskFull(err)
}

func sortByAddr(ls []Lease) {
	slices.SortFunc(ls, func(a, b Lease) int {
		x, _ := netip.ParseAddr(a.IP)
		y, _ := netip.ParseAddr(b.IP)
		return x.Compare(y)
	})
}

// Full-DHCP settings keys (`pixie serve --dhcp ...`): each flag given is
// stored, so the next start, or the service, serves the same way.
const (
	// SettingDHCPMode is "full" or "proxy" (the default).
	SettingDHCPMode = "dhcp_mode"
	// SettingDHCPRange is "FROM-TO", empty for the pool derived from the
	// interface's subnet.
	SettingDHCPRange = "dhcp_range"
	// SettingDHCPLeaseTime is a Go duration.
	SettingDHCPLeaseTime = "dhcp_lease_time"
	// SettingDHCPRouter and SettingDHCPDNS are comma-separated IPv4
	// addresses, empty for none.
	SettingDHCPRouter = "dhcp_router"
	SettingDHCPDNS    = "dhcp_dns"
)
