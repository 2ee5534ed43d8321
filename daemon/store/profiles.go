package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"regexp"
	"strings"
	"text/template"
	"time"

	"github.com/pixie-boot/pixie/daemon/ignition"
	"github.com/pixie-boot/pixie/daemon/ipxearg"
)

// Profile says how a machine boots: which kernel and initrds from the asset
// store (paths relative to it, or http(s) URLs), which kernel arguments, and
// which Ignition config it is given.
type Profile struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	OS          string   `json:"os"`
	Kernel      string   `json:"kernel"`
	Initrds     []string `json:"initrds"`
	Args        string   `json:"args"`
	Ignition    string   `json:"ignition,omitempty"`
	// PhoneHome is where the booted OS reports that it is up, as configs
	// see it in {{.PhoneHomeURL}}: PhoneHomeDefault (also when empty) for
	// pixie's own /phone-home endpoint, which records the final "booted"
	// stage; PhoneHomeNone; or an http(s) URL template like the kernel
	// arguments.
	PhoneHome string `json:"phone_home,omitempty"`
	// IgnitionSpec is the newest Ignition spec version the profile's OS
	// reads ("3.3.0"): configs are served at that version or refused (see
	// ignition.FitSpec). Empty: what pixie knows of the OS kind
	// (ignition.SpecFor).
	IgnitionSpec string `json:"ignition_spec,omitempty"`
	// Vars are the profile's template variables; a machine's own
	// variables of the same name win.
	Vars      map[string]string `json:"vars,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// A profile's PhoneHome: PhoneHomeDefault is pixie's own /phone-home
// endpoint, with the machine's MAC and per-boot token; PhoneHomeNone
// leaves {{.PhoneHomeURL}} empty.
const (
	PhoneHomeDefault = "default"
	PhoneHomeNone    = "none"
)

// KnownOS lists the OS kinds a profile may name.
var KnownOS = []string{"generic", "fedora-coreos", "flatcar", "container-linux"}

// Validate checks a profile before it is stored and says what is wrong.
func (p *Profile) Validate() error {
	if !nameRE.MatchString(p.Name) {
		return fmt.Errorf("%w: profile name %q: use 1-63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit", ErrInvalid, p.Name)
	}
	if p.OS == "" {
		p.OS = "generic"
	}
	known := false
	for _, os := range KnownOS {
		known = known || p.OS == os
	}
	if !known {
		return fmt.Errorf("%w: profile %s: unknown OS %q (one of %s)", ErrInvalid, p.Name, p.OS, strings.Join(KnownOS, ", "))
	}
	if p.Kernel == "" {
		return fmt.Errorf("%w: profile %s has no kernel: give --kernel PATH (inside the asset store) or an http:// URL", ErrInvalid, p.Name)
	}
	if err := validAssetRef(p.Kernel); err != nil {
		return fmt.Errorf("%w: profile %s: kernel: %v", ErrInvalid, p.Name, err)
	}
	for _, in := range p.Initrds {
		if err := validAssetRef(in); err != nil {
			return fmt.Errorf("%w: profile %s: initrd: %v", ErrInvalid, p.Name, err)
		}
	}
	if strings.ContainsAny(p.Args, "\n\r") {
		return fmt.Errorf("%w: profile %s: kernel arguments must be on one line", ErrInvalid, p.Name)
	}
	if _, err := template.New("args").Funcs(TemplateFuncs()).Parse(p.Args); err != nil {
		return fmt.Errorf("%w: profile %s: kernel arguments template: %v", ErrInvalid, p.Name, err)
	}
	// iPXE would run "||", "&&", ";" or a "#..." word on the kernel line as
	// script: refuse now rather than when a machine boots (httpboot checks
	// the rendered line with the same rule).
	var argErr *ipxearg.Error
	if err := ipxearg.CheckTemplate(p.Args); errors.As(err, &argErr) {
		return fmt.Errorf("%w: profile %s: %s", ErrInvalid, p.Name, argErr.Explain())
	} else if err != nil {
		return fmt.Errorf("%w: profile %s: kernel arguments: %v", ErrInvalid, p.Name, err)
	}
	if p.PhoneHome == "" {
		p.PhoneHome = PhoneHomeDefault
	}
	if err := validPhoneHome(p.PhoneHome); err != nil {
		return fmt.Errorf("%w: profile %s: phone-home: %v", ErrInvalid, p.Name, err)
	}
	if err := validVars(p.Vars); err != nil {
		return fmt.Errorf("%w: profile %s: %v", ErrInvalid, p.Name, err)
	}
	spec, err := ignition.NormalizeSpec(p.IgnitionSpec)
	if err != nil {
		return fmt.Errorf("%w: profile %s: %v", ErrInvalid, p.Name, err)
	}
	p.IgnitionSpec = spec
	if strings.TrimSpace(p.Ignition) != "" {
		// Translated and validated with the coreos libraries (with sample
		// values for the template), so a broken config is refused here
		// rather than served.
		if err := ignition.CheckSpec(p.Ignition, p.OS, ignition.SpecFor(p.OS, p.IgnitionSpec, p.Kernel)); err != nil {
			return fmt.Errorf("%w: profile %s: %v", ErrInvalid, p.Name, err)
		}
	}
	return nil
}

// validPhoneHome accepts "default", "none", or an http(s) URL template on
// one line.
func validPhoneHome(u string) error {
	if u == PhoneHomeDefault || u == PhoneHomeNone {
		return nil
	}
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return fmt.Errorf("%q: give an http:// or https:// URL, %q for pixie's own /phone-home or %q", u, PhoneHomeDefault, PhoneHomeNone)
	}
	if len(u) > 2048 || strings.ContainsAny(u, " \t\r\n\"'\\") {
		return fmt.Errorf("%q: a URL has no spaces, quotes or backslashes and is at most 2048 bytes", u)
	}
	if _, err := template.New("phone-home").Funcs(TemplateFuncs()).Parse(u); err != nil {
		return fmt.Errorf("URL template: %v", err)
	}
	if _, err := url.Parse(strings.NewReplacer("{{", "", "}}", "").Replace(u)); err != nil {
		return fmt.Errorf("%q is not a valid URL", u)
	}
	return nil
}

// validVars checks template variable names and sizes (profiles and
// machines share the rules).
func validVars(vars map[string]string) error {
	for k, v := range vars {
		if !varNameRE.MatchString(k) {
			return fmt.Errorf("variable name %q: use letters, digits and '_', starting with a letter or '_'", k)
		}
		if len(v) > 64<<10 {
			return fmt.Errorf("variable %s is larger than 64 KiB", k)
		}
	}
	return nil
}

// validAssetRef accepts a clean relative path inside the asset store or an
// http(s) URL; anything else could name a file outside the store.
func validAssetRef(ref string) error {
	if strings.HasPrefix(ref, "http://") || strings.HasPrefix(ref, "https://") {
		u, err := url.Parse(ref)
		if err != nil || u.Host == "" {
			return fmt.Errorf("%q is not a valid URL", ref)
		}
		return nil
	}
	if !fs.ValidPath(ref) || ref == "." || strings.Contains(ref, `\`) {
		return fmt.Errorf("%q must be a relative path inside the asset store (no '..', no leading '/') or an http(s):// URL", ref)
	}
	return nil
}

const profileCols = `name, description, os, kernel, initrds, args, ignition, phone_home, ignition_spec, vars, created_at, updated_at`

func scanProfile(row interface{ Scan(...any) error }) (Profile, error) {
	var p Profile
	var initrds, vars string
	var created, updated int64
	if err := row.Scan(&p.Name, &p.Description, &p.OS, &p.Kernel, &initrds, &p.Args, &p.Ignition, &p.PhoneHome, &p.IgnitionSpec, &vars, &created, &updated); err != nil {
		return p, err
	}
	if err := json.Unmarshal([]byte(initrds), &p.Initrds); err != nil {
		return p, fmt.Errorf("profile %s: corrupt initrd list: %w", p.Name, err)
	}
	if err := json.Unmarshal([]byte(vars), &p.Vars); err != nil {
		return p, fmt.Errorf("profile %s: corrupt variables: %w", p.Name, err)
	}
	p.CreatedAt = time.Unix(0, created).UTC()
	p.UpdatedAt = time.Unix(0, updated).UTC()
	return p, nil
}

// Profiles lists all profiles by name.
func (s *Store) Profiles(ctx context.Context) ([]Profile, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+profileCols+` FROM profiles ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Profile{}
	for rows.Next() {
		p, err := scanProfile(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Profile returns the named profile or ErrNotFound.
func (s *Store) Profile(ctx context.Context, name string) (Profile, error) {
	p, err := scanProfile(s.db.QueryRowContext(ctx, `SELECT `+profileCols+` FROM profiles WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("profile %q: %w", name, ErrNotFound)
	}
	return p, err
}

// CreateProfile stores a new profile; ErrExists if the name is taken.
func (s *Store) CreateProfile(ctx context.Context, p Profile) (Profile, error) {
	if err := p.Validate(); err != nil {
		return p, err
	}
	if p.Initrds == nil {
		p.Initrds = []string{}
	}
	initrds, _ := json.Marshal(p.Initrds)
	vars := marshalVars(p.Vars)
	now := time.Now().UTC()
	_, err := s.db.ExecContext(ctx, `INSERT INTO profiles(`+profileCols+`) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.Name, p.Description, p.OS, p.Kernel, string(initrds), p.Args, p.Ignition, p.PhoneHome, p.IgnitionSpec, vars, now.UnixNano(), now.UnixNano())
	if isConstraint(err) {
		return p, fmt.Errorf("profile %q: %w", p.Name, ErrExists)
	}
	if err != nil {
		return p, diskFull(err)
	}
	return s.Profile(ctx, p.Name)
}

// UpdateProfile replaces an existing profile's fields; ErrNotFound if absent.
func (s *Store) UpdateProfile(ctx context.Context, p Profile) (Profile, error) {
	if err := p.Validate(); err != nil {
		return p, err
	}
	if p.Initrds == nil {
		p.Initrds = []string{}
	}
	initrds, _ := json.Marshal(p.Initrds)
	res, err := s.db.ExecContext(ctx, `UPDATE profiles SET description = ?, os = ?, kernel = ?, initrds = ?, args = ?, ignition = ?, phone_home = ?, ignition_spec = ?, vars = ?, updated_at = ? WHERE name = ?`,
		p.Description, p.OS, p.Kernel, string(initrds), p.Args, p.Ignition, p.PhoneHome, p.IgnitionSpec, marshalVars(p.Vars), time.Now().UnixNano(), p.Name)
	if err != nil {
		return p, diskFull(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return p, fmt.Errorf("profile %q: %w", p.Name, ErrNotFound)
	}
	return s.Profile(ctx, p.Name)
}

// marshalVars stores a variable map as a JSON object ({} when empty).
func marshalVars(vars map[string]string) string {
	if len(vars) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(vars)
	return string(b)
}

// DeleteProfile removes a profile. It refuses (ErrInUse) while machines use
// it or while it is the default profile.
func (s *Store) DeleteProfile(ctx context.Context, name string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return diskFull(err)
	}
	defer tx.Rollback()
	var def string
	_ = tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, SettingDefaultProfile).Scan(&def)
	if def == name {
		return fmt.Errorf("profile %q is the default profile for unknown machines: %w", name, ErrInUse)
	}
	var users int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM machines WHERE profile = ?`, name).Scan(&users); err != nil {
		return err
	}
	if users > 0 {
		return fmt.Errorf("profile %q is assigned to %d machine(s); assign them another profile first: %w", name, users, ErrInUse)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM profiles WHERE name = ?`, name)
	if err != nil {
		return diskFull(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("profile %q: %w", name, ErrNotFound)
	}
	return diskFull(tx.Commit())
}

// DefaultProfile returns the profile unknown machines boot.
func (s *Store) DefaultProfile(ctx context.Context) (Profile, error) {
	name, err := s.Setting(ctx, SettingDefaultProfile)
	if err != nil {
		return Profile{}, err
	}
	return s.Profile(ctx, name)
}

// TemplateFuncs are the functions kernel-argument and Ignition templates may
// call. Validation here and rendering in httpboot share them, so a template
// accepted when stored also renders.
func TemplateFuncs() template.FuncMap {
	return template.FuncMap{
		// json quotes and escapes a value for use inside a JSON document.
		"json": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
	}
}
