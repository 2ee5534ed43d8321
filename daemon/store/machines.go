package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
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
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
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

const machineCols = `mac, coalesce(profile, ''), hostname, vars, ignition, loader, loader_step, loader_reason, loader_step_at, created_at, updated_at`

func scanMachine(row interface{ Scan(...any) error }) (Machine, error) {
	var m Machine
	var vars string
	var created, updated, stepAt int64
	if err := row.Scan(&m.MAC, &m.Profile, &m.Hostname, &vars, &m.Ignition, &m.Loader, &m.LoaderStep, &m.LoaderReason, &stepAt, &created, &updated); err != nil {
		return m, err
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
	// The ladder's step is the DHCP server's to set: a PUT keeps it, or
	// clears it (a reset) when it comes back empty.
	_, err := s.db.ExecContext(ctx, `INSERT INTO machines(mac, profile, hostname, vars, ignition, loader, created_at, updated_at)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(mac) DO UPDATE SET profile = excluded.profile, hostname = excluded.hostname,
			vars = excluded.vars, ignition = excluded.ignition, loader = excluded.loader,
			loader_step = CASE WHEN ? = '' THEN '' ELSE loader_step END,
			loader_reason = CASE WHEN ? = '' THEN '' ELSE loader_reason END,
			loader_step_at = CASE WHEN ? = '' THEN 0 ELSE loader_step_at END,
			updated_at = excluded.updated_at`,
		m.MAC, profile, m.Hostname, string(vars), m.Ignition, m.Loader, now, now, m.LoaderStep, m.LoaderStep, m.LoaderStep)
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
