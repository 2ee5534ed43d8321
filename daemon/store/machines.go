package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pixie-boot/pixie/daemon/hwaddr"
	"github.com/pixie-boot/pixie/daemon/ignition"
)

// Machine is what pixie knows about one network card's owner: the profile it
// boots (empty: the default profile), its hostname and free-form variables
// used when rendering its scripts and Ignition config.
type Machine struct {
	MAC      string            `json:"mac"`
	Profile  string            `json:"profile,omitempty"`
	Hostname string            `json:"hostname,omitempty"`
	Vars     map[string]string `json:"vars,omitempty"`
	// Ignition is the machine's own config (Ignition 3.x or Butane, a
	// template like the profile's), merged over the profile's config.
	Ignition string `json:"ignition,omitempty"`
	// Loader is the machine's first-stage loader: auto (the ladder), or a
	// pin: snponly, ipxe or grub.
	Loader string `json:"loader"`
	// LoaderStep is the rung auto reached (empty: the bottom, snponly),
	// LoaderReason why and LoaderStepAt when. The DHCP server writes them
	// (SetLoaderStep); a PUT can only clear them, which resets the ladder.
	LoaderStep   string    `json:"loader_step,omitempty"`
	LoaderReason string    `json:"loader_reason,omitempty"`
	LoaderStepAt time.Time `json:"loader_step_at,omitzero"`
	// IP is the machine's reserved address, "ADDR" or "ADDR/PREFIX"
	// (`pixie machines set MAC --ip`); Gateway and DNS go with it. In
	// full-DHCP mode the MAC always gets it; in proxy mode pixie writes it
	// into the boot. No two machines may reserve the same address.
	IP        string    `json:"ip,omitempty"`
	Gateway   string    `json:"gateway,omitempty"`
	DNS       []string  `json:"dns,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

var (
	hostnameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)
	varNameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
)

// Validate normalizes the MAC and checks the fields.
func (m *Machine) Validate() error {
	mac, err := hwaddr.Parse(m.MAC)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	m.MAC = mac
	if m.Hostname != "" && (len(m.Hostname) > 253 || !hostnameRE.MatchString(m.Hostname)) {
		return fmt.Errorf("%w: hostname %q: use letters, digits and '-' in dot-separated labels of up to 63 characters", ErrInvalid, m.Hostname)
	}
	for k, v := range m.Vars {
		if !varNameRE.MatchString(k) {
			return fmt.Errorf("%w: variable name %q: use letters, digits and '_', starting with a letter or '_'", ErrInvalid, k)
		}
		if len(v) > 64<<10 {
			return fmt.Errorf("%w: variable %s is larger than 64 KiB", ErrInvalid, k)
		}
	}
	if m.Loader == "" {
		m.Loader = LoaderAuto
	}
	if !validLoader(m.Loader) {
		return fmt.Errorf("%w: loader %q: use auto, snponly, ipxe or grub", ErrInvalid, m.Loader)
	}
	if m.LoaderStep != "" && (!validLoader(m.LoaderStep) || m.LoaderStep == LoaderAuto) {
		return fmt.Errorf("%w: loader step %q: want snponly, ipxe or grub", ErrInvalid, m.LoaderStep)
	}
	if err := m.validateReservation(); err != nil {
		return err
	}
	if strings.TrimSpace(m.Ignition) != "" {
		if err := ignition.CheckOverlay(m.Ignition, ""); err != nil {
			return fmt.Errorf("%w: machine %s: %v", ErrInvalid, m.MAC, err)
		}
	}
	return nil
}

// LoaderAuto is the loader of a machine with no pin: the ladder.
const LoaderAuto = "auto"

func validLoader(l string) bool {
	switch l {
	case LoaderAuto, "snponly", "ipxe", "grub":
		return true
	}
	return false
}

const machineCols = `mac, coalesce(profile, ''), hostname, vars, ignition, loader, loader_step, loader_reason, loader_step_at, ip, ip_prefix, gateway, dns, created_at, updated_at`

func scanMachine(row interface{ Scan(...any) error }) (Machine, error) {
	var m Machine
	var vars string
	var created, updated, stepAt, prefix int64
	var dns string
	if err := row.Scan(&m.MAC, &m.Profile, &m.Hostname, &vars, &m.Ignition, &m.Loader, &m.LoaderStep, &m.LoaderReason, &stepAt,
		&m.IP, &prefix, &m.Gateway, &dns, &created, &updated); err != nil {
		return m, err
	}
	if m.IP != "" && prefix > 0 {
		m.IP += "/" + strconv.FormatInt(prefix, 10)
	}
	if dns != "" {
		m.DNS = strings.Split(dns, ",")
	}
	if stepAt != 0 {
		m.LoaderStepAt = time.Unix(0, stepAt).UTC()
	}
	if err := json.Unmarshal([]byte(vars), &m.Vars); err != nil {
		return m, fmt.Errorf("machine %s: corrupt variables: %w", m.MAC, err)
	}
	m.CreatedAt = time.Unix(0, created).UTC()
	m.UpdatedAt = time.Unix(0, updated).UTC()
	return m, nil
}

// Machines lists all machines by MAC.
func (s *Store) Machines(ctx context.Context) ([]Machine, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+machineCols+` FROM machines ORDER BY mac`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Machine{}
	for rows.Next() {
		m, err := scanMachine(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Machine returns the machine with that MAC (any spelling) or ErrNotFound.
func (s *Store) Machine(ctx context.Context, mac string) (Machine, error) {
	norm, err := hwaddr.Parse(mac)
	if err != nil {
		return Machine{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	m, err := scanMachine(s.db.QueryRowContext(ctx, `SELECT `+machineCols+` FROM machines WHERE mac = ?`, norm))
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("machine %s: %w", norm, ErrNotFound)
	}
	return m, err
}

// PutMachine creates or replaces a machine. A profile that does not exist is
// refused with ErrInvalid.
func (s *Store) PutMachine(ctx context.Context, m Machine) (Machine, error) {
	if err := m.Validate(); err != nil {
		return m, err
	}
	if m.Vars == nil {
		m.Vars = map[string]string{}
	}
	vars, _ := json.Marshal(m.Vars)
	var profile any
	if m.Profile != "" {
		profile = m.Profile
	}
	now := time.Now().UnixNano()
	ip, prefix := m.reservedAddr()
	// The ladder's step is the DHCP server's to set: a PUT keeps it, or
	// clears it (a reset) when it comes back empty.
	_, err := s.db.ExecContext(ctx, `INSERT INTO machines(mac, profile, hostname, vars, ignition, loader, ip, ip_prefix, gateway, dns, created_at, updated_at)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(mac) DO UPDATE SET profile = excluded.profile, hostname = excluded.hostname,
			vars = excluded.vars, ignition = excluded.ignition, loader = excluded.loader,
			ip = excluded.ip, ip_prefix = excluded.ip_prefix, gateway = excluded.gateway, dns = excluded.dns,
			loader_step = CASE WHEN ? = '' THEN '' ELSE machines.loader_step END,
			loader_reason = CASE WHEN ? = '' THEN '' ELSE machines.loader_reason END,
			loader_step_at = CASE WHEN ? = '' THEN 0 ELSE machines.loader_step_at END,
			updated_at = excluded.updated_at`,
		m.MAC, profile, m.Hostname, string(vars), m.Ignition, m.Loader, ip, prefix, m.Gateway, strings.Join(m.DNS, ","),
		now, now, m.LoaderStep, m.LoaderStep, m.LoaderStep)
	if isConstraint(err) && ip != "" {
		if owner, oerr := s.ReservedBy(ctx, ip); oerr == nil && owner != "" && owner != m.MAC {
			return m, fmt.Errorf("%w: %s is already reserved for machine %s: pick another address, or remove that reservation first (`pixie machines set %s --ip ''`)", ErrExists, ip, owner, owner)
		}
	}
	if isConstraint(err) {
		return m, fmt.Errorf("%w: profile %q does not exist (see `pixie profiles list`)", ErrInvalid, m.Profile)
	}
	if err != nil {
		return m, diskFull(err)
	}
	return s.Machine(ctx, m.MAC)
}

// DeleteMachine forgets a machine (its boot events stay in the history).
func (s *Store) DeleteMachine(ctx context.Context, mac string) error {
	norm, err := hwaddr.Parse(mac)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM machines WHERE mac = ?`, norm)
	if err != nil {
		return diskFull(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("machine %s: %w", norm, ErrNotFound)
	}
	return nil
}

// BootPlan is what a booting MAC gets: its machine record (zero if unknown)
// and the profile to boot.
type BootPlan struct {
	Machine Machine
	Known   bool // pixie has a machine record for this MAC
	Profile Profile
	// Default is true when the profile is the default one because the
	// machine is unknown or has no profile assigned.
	Default bool
}

// PlanBoot resolves which profile a MAC boots. An unknown MAC boots the
// default profile. A profile that vanished is reported as ErrNotFound so the
// caller can tell the machine's console.
func (s *Store) PlanBoot(ctx context.Context, mac string) (BootPlan, error) {
	var plan BootPlan
	m, err := s.Machine(ctx, mac)
	switch {
	case err == nil:
		plan.Machine, plan.Known = m, true
	case errors.Is(err, ErrNotFound):
		plan.Machine.MAC, _ = hwaddr.Parse(mac)
	default:
		return plan, err
	}
	name := plan.Machine.Profile
	if name == "" {
		plan.Default = true
		if name, err = s.Setting(ctx, SettingDefaultProfile); err != nil {
			return plan, fmt.Errorf("no default profile is set: %w", err)
		}
	}
	plan.Profile, err = s.Profile(ctx, name)
	return plan, err
}

// SetLoaderStep records the ladder rung a machine reached, why and when. A
// MAC pixie has no record of gets one (default profile, loader auto), so
// the rung survives a restart; its other fields are left alone.
func (s *Store) SetLoaderStep(ctx context.Context, mac, step, reason string, at time.Time) error {
	norm, err := hwaddr.Parse(mac)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if step != "" && (!validLoader(step) || step == LoaderAuto) {
		return fmt.Errorf("%w: loader step %q: want snponly, ipxe or grub", ErrInvalid, step)
	}
	now := time.Now().UnixNano()
	_, err = s.db.ExecContext(ctx, `INSERT INTO machines(mac, loader_step, loader_reason, loader_step_at, created_at, updated_at)
		VALUES(?, ?, ?, ?, ?, ?)
		ON CONFLICT(mac) DO UPDATE SET loader_step = excluded.loader_step, loader_reason = excluded.loader_reason,
			loader_step_at = excluded.loader_step_at`,
		norm, step, reason, at.UnixNano(), now, now)
	return diskFull(err)
}

// validateReservation normalizes IP ("ADDR" or "ADDR/PREFIX"), Gateway
// and DNS, and checks they are IPv4 addresses that fit together.
func (m *Machine) validateReservation() error {
	m.IP, m.Gateway = strings.TrimSpace(m.IP), strings.TrimSpace(m.Gateway)
	if m.IP == "" {
		if m.Gateway != "" || len(m.DNS) > 0 {
			return fmt.Errorf("%w: machine %s: a gateway or DNS server needs a reserved address: add --ip ADDR[/PREFIX]", ErrInvalid, m.MAC)
		}
		return nil
	}
	var addr netip.Addr
	prefix := 0
	if strings.Contains(m.IP, "/") {
		p, err := netip.ParsePrefix(m.IP)
		if err != nil || !p.Addr().Is4() || p.Bits() < 1 || p.Bits() > 32 {
			return fmt.Errorf("%w: reserved address %q: want an IPv4 address, optionally with a prefix length (10.0.0.20/24)", ErrInvalid, m.IP)
		}
		addr, prefix = p.Addr(), p.Bits()
	} else {
		a, err := netip.ParseAddr(m.IP)
		if err != nil || !a.Is4() {
			return fmt.Errorf("%w: reserved address %q: want an IPv4 address, optionally with a prefix length (10.0.0.20/24)", ErrInvalid, m.IP)
		}
		addr = a
	}
	if addr.IsUnspecified() || addr.IsLoopback() || addr.IsMulticast() || addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return fmt.Errorf("%w: reserved address %s cannot be a machine's address: pick an address of the machine's network", ErrInvalid, addr)
	}
	if prefix > 0 && prefix < 31 {
		p := netip.PrefixFrom(addr, prefix).Masked()
		if addr == p.Addr() {
			return fmt.Errorf("%w: reserved address %s is the network address of %s: pick a host address", ErrInvalid, addr, p)
		}
	}
	m.IP = addr.String()
	if prefix > 0 {
		m.IP += "/" + strconv.Itoa(prefix)
	}
	if m.Gateway != "" {
		g, err := netip.ParseAddr(m.Gateway)
		if err != nil || !g.Is4() {
			return fmt.Errorf("%w: gateway %q: want an IPv4 address", ErrInvalid, m.Gateway)
		}
		if g == addr {
			return fmt.Errorf("%w: gateway %s is the machine's own reserved address: the gateway is the router's address", ErrInvalid, g)
		}
		m.Gateway = g.String()
	}
	for i, d := range m.DNS {
		a, err := netip.ParseAddr(strings.TrimSpace(d))
		if err != nil || !a.Is4() {
			return fmt.Errorf("%w: DNS server %q: want an IPv4 address", ErrInvalid, d)
		}
		m.DNS[i] = a.String()
	}
	return nil
}

// reservedAddr splits a validated IP into the address and prefix columns.
func (m Machine) reservedAddr() (string, int) {
	if m.IP == "" {
		return "", 0
	}
	if p, err := netip.ParsePrefix(m.IP); err == nil {
		return p.Addr().String(), p.Bits()
	}
	return m.IP, 0
}

// ReservedBy returns the MAC that reserved ip, "" for none.
func (s *Store) ReservedBy(ctx context.Context, ip string) (string, error) {
	var mac string
	err := s.db.QueryRowContext(ctx, `SELECT mac FROM machines WHERE ip = ?`, ip).Scan(&mac)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return mac, err
}
