package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/pixie-boot/pixie/daemon/dhcp"
	"github.com/pixie-boot/pixie/daemon/store"
)

// dhcpSettings is the DHCP mode as the flags and the stored settings
// give it.
type dhcpSettings struct {
	full      bool
	rangeSpec string // "FROM-TO", "" for the subnet's default pool
	leaseTime time.Duration
	router    []netip.Addr
	dns       []netip.Addr
	force     bool
}

// resolveDHCP stores the DHCP flags given (a value of "none" clears a
// stored one) and returns the settings in force.
func resolveDHCP(ctx context.Context, st *store.Store, cfg Config) (dhcpSettings, error) {
	set := func(key, v string) error {
		if v == "" {
			return nil
		}
		if v == "none" {
			v = ""
		}
		if err := st.SetSetting(ctx, key, v); err != nil {
			return fmt.Errorf("storing the DHCP setting %s: %w", key, err)
		}
		return nil
	}
	switch cfg.DHCP {
	case "", "full", "proxy":
	default:
		return dhcpSettings{}, fmt.Errorf("DHCP mode %q: use full (--dhcp) or proxy (--dhcp=false)", cfg.DHCP)
	}
	lease := ""
	if cfg.DHCPLeaseTime != 0 {
		if cfg.DHCPLeaseTime < time.Minute || cfg.DHCPLeaseTime > 365*24*time.Hour {
			return dhcpSettings{}, fmt.Errorf("--dhcp-lease-time %s: give a lease time from 1m to 8760h", cfg.DHCPLeaseTime)
		}
		lease = cfg.DHCPLeaseTime.String()
	}
	// Check every value before storing any, so a typo changes nothing.
	if r := cfg.DHCPRange; r != "" && r != "none" {
		if _, _, err := parseRange(r); err != nil {
			return dhcpSettings{}, err
		}
	}
	for flag, v := range map[string]string{"--dhcp-router": cfg.DHCPRouter, "--dhcp-dns": cfg.DHCPDNS} {
		if v != "none" {
			if _, err := parseAddrs(flag, v); err != nil {
				return dhcpSettings{}, err
			}
		}
	}
	for _, kv := range [][2]string{
		{store.SettingDHCPMode, cfg.DHCP}, {store.SettingDHCPRange, cfg.DHCPRange}, {store.SettingDHCPLeaseTime, lease},
		{store.SettingDHCPRouter, cfg.DHCPRouter}, {store.SettingDHCPDNS, cfg.DHCPDNS},
	} {
		if err := set(kv[0], kv[1]); err != nil {
			return dhcpSettings{}, err
		}
	}
	get := func(key string) (string, error) {
		v, err := st.Setting(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			return "", nil
		}
		return v, err
	}
	var s dhcpSettings
	var err error
	var v string
	if v, err = get(store.SettingDHCPMode); err != nil {
		return s, err
	}
	s.full = v == "full"
	if s.rangeSpec, err = get(store.SettingDHCPRange); err != nil {
		return s, err
	}
	if v, err = get(store.SettingDHCPLeaseTime); err != nil {
		return s, err
	}
	s.leaseTime = dhcp.DefaultLeaseTime
	if v != "" {
		if s.leaseTime, err = time.ParseDuration(v); err != nil {
			return s, fmt.Errorf("the stored DHCP lease time %q is not a duration: start pixie with --dhcp-lease-time 1h to replace it", v)
		}
	}
	if v, err = get(store.SettingDHCPRouter); err != nil {
		return s, err
	}
	if s.router, err = parseAddrs("the stored DHCP router", v); err != nil {
		return s, err
	}
	if v, err = get(store.SettingDHCPDNS); err != nil {
		return s, err
	}
	if s.dns, err = parseAddrs("the stored DHCP DNS servers", v); err != nil {
		return s, err
	}
	s.force = cfg.DHCPForce
	return s, nil
}

// parseRange reads "FROM-TO".
func parseRange(r string) (netip.Addr, netip.Addr, error) {
	from, to, ok := strings.Cut(r, "-")
	a, errA := netip.ParseAddr(strings.TrimSpace(from))
	b, errB := netip.ParseAddr(strings.TrimSpace(to))
	if !ok || errA != nil || errB != nil || !a.Is4() || !b.Is4() {
		return netip.Addr{}, netip.Addr{}, fmt.Errorf("--dhcp-range %q: give two IPv4 addresses of the interface's network, FROM-TO, like 10.0.0.100-10.0.0.199", r)
	}
	return a, b, nil
}

// parseAddrs reads a comma-separated list of IPv4 addresses.
func parseAddrs(what, v string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil || !a.Is4() {
			return nil, fmt.Errorf("%s %q: give IPv4 addresses separated by commas, like 10.0.0.1", what, v)
		}
		out = append(out, a)
	}
	return out, nil
}

// pool is the full-DHCP pool on an interface address.
func (s dhcpSettings) pool(iface netip.Prefix) (dhcp.Pool, error) {
	if s.rangeSpec == "" {
		return dhcp.DefaultPool(iface)
	}
	from, to, err := parseRange(s.rangeSpec)
	if err != nil {
		return dhcp.Pool{}, err
	}
	return dhcp.RangePool(iface, from, to)
}

// storeLeases keeps full-DHCP leases in the database.
type storeLeases struct{ st *store.Store }

func (a storeLeases) SaveLease(ctx context.Context, l dhcp.Lease) error {
	return a.st.PutLease(ctx, store.Lease{IP: l.IP.String(), MAC: l.MAC, State: string(l.State), Expires: l.Expires, Hostname: l.Hostname})
}

// loadLeases reads the stored leases for a new lease table.
func loadLeases(ctx context.Context, st *store.Store) ([]dhcp.Lease, error) {
	stored, err := st.Leases(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]dhcp.Lease, 0, len(stored))
	for _, l := range stored {
		a, err := netip.ParseAddr(l.IP)
		if err != nil {
			continue
		}
		out = append(out, dhcp.Lease{MAC: l.MAC, IP: a, State: dhcp.LeaseState(l.State), Expires: l.Expires, Hostname: l.Hostname})
	}
	return out, nil
}

// loadReservations reads the machines' reserved addresses.
func loadReservations(ctx context.Context, st *store.Store) ([]dhcp.Reservation, error) {
	ms, err := st.Machines(ctx)
	if err != nil {
		return nil, err
	}
	var out []dhcp.Reservation
	for _, m := range ms {
		if m.IP == "" {
			continue
		}
		r, ok := reservationOf(m)
		if ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// reservationOf is a machine's reservation as the DHCP server takes it.
func reservationOf(m store.Machine) (dhcp.Reservation, bool) {
	r := dhcp.Reservation{MAC: m.MAC}
	if p, err := netip.ParsePrefix(m.IP); err == nil {
		r.IP, r.Prefix = p.Addr(), p.Bits()
	} else if a, err := netip.ParseAddr(m.IP); err == nil {
		r.IP = a
	} else {
		return r, false
	}
	r.Gateway, _ = netip.ParseAddr(m.Gateway)
	for _, d := range m.DNS {
		if a, err := netip.ParseAddr(d); err == nil {
			r.DNS = append(r.DNS, a)
		}
	}
	return r, true
}
