// Package service installs and controls the pixie daemon as a system service:
// a systemd unit on Linux (Fedora CoreOS, Flatcar, any systemd distribution)
// and a LaunchDaemon on macOS, both running `pixie serve` as root.
//
// The unit and the plist are rendered here, by code the tests read back field
// by field, and handed to github.com/kardianos/service as a finished file: the
// library writes it where the OS's service manager reads it and runs
// systemctl or launchctl. Rendering in pixie rather than in the library's
// template engine keeps the file's exact content testable without a service
// manager, and lets Manager stage the same bytes under another root directory
// (tests, image and package builds).
package service

import (
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	kservice "github.com/kardianos/service"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/helper/paths"
)

// Names and places of the service on each OS.
const (
	// SystemdName is the unit's name: `systemctl status pixie`.
	SystemdName = "pixie"
	// SystemdUnitPath is where systemd reads administrator-installed units
	// (and where kardianos/service writes a system service's unit).
	SystemdUnitPath = "/etc/systemd/system/pixie.service"

	// LaunchdLabel is the LaunchDaemon's label: `launchctl print
	// system/dev.pixie.daemon`. Reverse-DNS as launchd expects.
	LaunchdLabel = "dev.pixie.daemon"
	// LaunchdPlistPath is where launchd reads system daemons (and where
	// kardianos/service writes one).
	LaunchdPlistPath = "/Library/LaunchDaemons/dev.pixie.daemon.plist"
	// LaunchdLogFile is the daemon's log on macOS (`pixie serve
	// --log-file`); Console.app shows /Library/Logs under "Log Reports".
	LaunchdLogFile = api.DarwinLogFile
	// LaunchdPidFile is the daemon's pid (`pixie serve --pid-file`), which
	// newsyslog signals after rotating LaunchdLogFile.
	LaunchdPidFile = "/var/run/pixie.pid"
	// LaunchdOutputFile takes what the daemon writes to stdout and stderr
	// beside its log: a Go panic, an error before the log file is open.
	LaunchdOutputFile = api.DarwinLogDir + "/pixie-stderr.log"
	// NewsyslogConfPath is where macOS's newsyslog reads pixie's rotation
	// rules (NewsyslogConf).
	NewsyslogConfPath = "/etc/newsyslog.d/pixie.conf"
)

// Spec is one installation of the service: which binary runs with which
// `pixie serve` arguments, and the places the service must be allowed to
// write.
type Spec struct {
	// GOOS selects systemd ("linux") or launchd ("darwin").
	GOOS string
	// Executable is the absolute path of the pixie binary the service runs.
	Executable string
	// Args follow the executable; Args[0] is "serve".
	Args []string
	// DataDir, Socket and SocketGroup are where the daemon will keep its
	// database, its control socket, and the group given access to it; they
	// must match what Args tell the daemon (Settings.Spec keeps them so).
	DataDir     string
	Socket      string
	SocketGroup string
}

// Settings are the `pixie serve` flags a service is installed with. Zero
// values mean the daemon's defaults, and such flags stay off the command
// line, so the unit shows only what was asked for.
type Settings struct {
	Interface   string
	Address     string
	DataDir     string // "": the OS default (paths.For)
	HTTPPort    int
	DHCPPort    int
	PXEPort     int
	TFTPPort    int
	EFIFile     string // "": the loader ladder; a name replaces it
	Loader      string // "": the stored default loader, else auto
	SocketGroup string // "": the OS default
	Socket      string // "": the OS default
	LogLevel    string
	// NoIgnitionTokens and IgnitionTokenTTL mirror `pixie serve`'s
	// per-boot Ignition token flags (0: the daemon's default, one hour).
	NoIgnitionTokens bool
	IgnitionTokenTTL time.Duration
	// EventsMax and EventsMaxAge mirror --events-max and --events-max-age
	// (0: the stored setting, else the daemon's default).
	EventsMax    int64
	EventsMaxAge time.Duration
	// DHCPLinkLayer mirrors --dhcp-link-layer.
	DHCPLinkLayer bool
	// DHCP mirrors --dhcp: "full", "proxy" (--dhcp=false) or "" (the
	// stored mode). DHCPRange, DHCPLeaseTime, DHCPRouter, DHCPDNS and
	// DHCPForce mirror --dhcp-range, --dhcp-lease-time, --dhcp-router,
	// --dhcp-dns and --force.
	DHCP          string
	DHCPRange     string
	DHCPLeaseTime time.Duration
	DHCPRouter    string
	DHCPDNS       string
	DHCPForce     bool
	// Store mirrors --store: "" for the SQLite file in the data directory,
	// else a postgres:// URL (never with a password in it: the service
	// file and `ps` show it). StorePasswordFile mirrors
	// --store-password-file, the file the password is read from.
	Store             string
	StorePasswordFile string
	// Instance mirrors --instance: the name this instance records on its
	// boot events ("": the host name).
	Instance string
}

// Spec turns the settings into the service's command line for the
// executable on goos. Flags equal to the OS's defaults are left out.
func (s Settings) Spec(goos, executable string) (Spec, error) {
	if !path.IsAbs(executable) {
		return Spec{}, fmt.Errorf("the service needs the pixie binary's absolute path, not %q", executable)
	}
	def := paths.For(goos)
	spec := Spec{
		GOOS: goos, Executable: executable, Args: []string{"serve"},
		DataDir: def.DataDir, Socket: def.Socket, SocketGroup: def.SocketGroup,
	}
	str := func(flag, v, dflt string) {
		if v != "" && v != dflt {
			spec.Args = append(spec.Args, "--"+flag, v)
		}
	}
	port := func(flag string, v, dflt int) error {
		if v == 0 || v == dflt {
			return nil
		}
		if v < 1 || v > 65535 {
			return fmt.Errorf("--%s %d: not a port (1-65535)", flag, v)
		}
		spec.Args = append(spec.Args, "--"+flag, strconv.Itoa(v))
		return nil
	}
	str("interface", s.Interface, "")
	str("address", s.Address, "")
	if s.DataDir != "" && s.DataDir != def.DataDir {
		if !path.IsAbs(s.DataDir) {
			return Spec{}, fmt.Errorf("--data-dir %q: give an absolute path (the service does not start in this directory)", s.DataDir)
		}
		spec.DataDir = path.Clean(s.DataDir)
		spec.Args = append(spec.Args, "--data-dir", spec.DataDir)
	}
	for _, p := range []struct {
		flag    string
		v, dflt int
	}{{"http-port", s.HTTPPort, 8080}, {"dhcp-port", s.DHCPPort, 67}, {"pxe-port", s.PXEPort, 4011}, {"tftp-port", s.TFTPPort, 69}} {
		if err := port(p.flag, p.v, p.dflt); err != nil {
			return Spec{}, err
		}
	}
	// No --efi-file is the daemon's default (the loader ladder); either
	// name given replaces it, so both go on the command line.
	switch s.EFIFile {
	case "":
	case "ipxe.efi", "snponly.efi":
		spec.Args = append(spec.Args, "--efi-file", s.EFIFile)
	default:
		return Spec{}, fmt.Errorf("--efi-file %q: use ipxe.efi or snponly.efi", s.EFIFile)
	}
	switch s.Loader {
	case "":
	case "auto", "snponly", "ipxe", "grub":
		spec.Args = append(spec.Args, "--loader", s.Loader)
	default:
		return Spec{}, fmt.Errorf("--loader %q: use auto, snponly, ipxe or grub", s.Loader)
	}
	if s.SocketGroup != "" && s.SocketGroup != def.SocketGroup {
		spec.SocketGroup = s.SocketGroup
		spec.Args = append(spec.Args, "--socket-group", s.SocketGroup)
	}
	if s.Socket != "" && s.Socket != def.Socket {
		if !path.IsAbs(s.Socket) {
			return Spec{}, fmt.Errorf("--socket %q: give an absolute path", s.Socket)
		}
		spec.Socket = path.Clean(s.Socket)
		spec.Args = append(spec.Args, "--socket", spec.Socket)
	}
	switch s.LogLevel {
	case "", "info":
	case "debug", "warn", "error":
		spec.Args = append(spec.Args, "--log-level", s.LogLevel)
	default:
		return Spec{}, fmt.Errorf("--log-level %q: use debug, info, warn or error", s.LogLevel)
	}
	if s.NoIgnitionTokens {
		spec.Args = append(spec.Args, "--no-ignition-tokens")
	}
	if s.DHCPLinkLayer {
		spec.Args = append(spec.Args, "--dhcp-link-layer")
	}
	switch s.DHCP {
	case "":
	case "full":
		spec.Args = append(spec.Args, "--dhcp")
	case "proxy":
		spec.Args = append(spec.Args, "--dhcp=false")
	default:
		return Spec{}, fmt.Errorf("DHCP mode %q: use full (--dhcp) or proxy (--dhcp=false)", s.DHCP)
	}
	str("dhcp-range", s.DHCPRange, "")
	if s.DHCPLeaseTime < 0 {
		return Spec{}, fmt.Errorf("--dhcp-lease-time %s: give a positive duration", s.DHCPLeaseTime)
	}
	if s.DHCPLeaseTime != 0 {
		spec.Args = append(spec.Args, "--dhcp-lease-time", s.DHCPLeaseTime.String())
	}
	str("dhcp-router", s.DHCPRouter, "")
	str("dhcp-dns", s.DHCPDNS, "")
	if err := storeArgs(s, &spec); err != nil {
		return Spec{}, err
	}
	if s.DHCPForce {
		spec.Args = append(spec.Args, "--force")
	}
	if s.IgnitionTokenTTL < 0 {
		return Spec{}, fmt.Errorf("--ignition-token-ttl %s: give a positive duration", s.IgnitionTokenTTL)
	}
	if s.IgnitionTokenTTL != 0 && s.IgnitionTokenTTL != time.Hour {
		spec.Args = append(spec.Args, "--ignition-token-ttl", s.IgnitionTokenTTL.String())
	}
	if s.EventsMax < 0 || s.EventsMaxAge < 0 {
		return Spec{}, fmt.Errorf("--events-max and --events-max-age must not be negative")
	}
	if s.EventsMax > 0 {
		spec.Args = append(spec.Args, "--events-max", strconv.FormatInt(s.EventsMax, 10))
	}
	if s.EventsMaxAge > 0 {
		age := s.EventsMaxAge.String()
		if day := 24 * time.Hour; s.EventsMaxAge%day == 0 {
			age = strconv.FormatInt(int64(s.EventsMaxAge/day), 10) + "d"
		}
		spec.Args = append(spec.Args, "--events-max-age", age)
	}
	if goos == "darwin" {
		// launchd's StandardOutPath would keep writing to the file
		// newsyslog renamed: pixie opens its own log, and newsyslog
		// finds it by the pid file (NewsyslogConf).
		spec.Args = append(spec.Args, "--log-file", LaunchdLogFile, "--pid-file", LaunchdPidFile)
	}
	return spec, nil
}

// CommandLine is the service's command as a person would type it.
func (s Spec) CommandLine() string {
	parts := []string{shellQuote(s.Executable)}
	for _, a := range s.Args {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

// FilePath is where the service manager reads this service's definition.
func (s Spec) FilePath() string {
	if s.GOOS == "darwin" {
		return LaunchdPlistPath
	}
	return SystemdUnitPath
}

// Kind names the service manager: "systemd" or "launchd".
func (s Spec) Kind() string { return kindFor(s.GOOS) }

func kindFor(goos string) string {
	if goos == "darwin" {
		return "launchd"
	}
	return "systemd"
}

// Render returns the unit or plist for the spec's OS.
func (s Spec) Render() ([]byte, error) {
	switch s.GOOS {
	case "linux":
		u, err := SystemdUnit(s)
		return []byte(u), err
	case "darwin":
		return LaunchdPlist(s)
	}
	return nil, fmt.Errorf("pixie runs as a service on Linux (systemd) and macOS (launchd), not on %s", s.GOOS)
}

// kardianosConfig is the library's description of the service, carrying the
// rendered file as its template. The library's template engine copies text
// without "{{" unchanged, so the file it writes is exactly content.
func (s Spec) kardianosConfig(content []byte) (*kservice.Config, error) {
	if strings.Contains(string(content), "{{") {
		return nil, fmt.Errorf("the service file would contain %q, which kardianos/service reads as a template: remove it from the flags", "{{")
	}
	cfg := &kservice.Config{
		Name:        SystemdName,
		DisplayName: "pixie",
		Description: "pixie network-boot server (proxyDHCP, TFTP, HTTP)",
		Executable:  s.Executable,
		Arguments:   s.Args,
		Option:      kservice.KeyValue{},
	}
	switch s.GOOS {
	case "darwin":
		cfg.Name = LaunchdLabel
		cfg.Option["LaunchdConfig"] = string(content)
		cfg.Option["KeepAlive"] = true
		cfg.Option["RunAtLoad"] = true
		cfg.Option["LogDirectory"] = path.Dir(LaunchdLogFile)
	default:
		cfg.Option["SystemdScript"] = string(content)
		cfg.Option["Restart"] = "on-failure"
	}
	return cfg, nil
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,@+%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// storeArgs puts --store, --store-password-file and --instance on the
// service's command line. The URL is checked for a password here too: the
// service file is readable by every user.
func storeArgs(s Settings, spec *Spec) error {
	if s.Store != "" {
		if u, err := url.Parse(s.Store); err == nil && u.Scheme != "" {
			if _, has := u.User.Password(); has || u.Query().Has("password") {
				return fmt.Errorf("--store: the URL carries a password, which every user could read in the service file: remove it and give --store-password-file FILE")
			}
		} else if !path.IsAbs(s.Store) {
			return fmt.Errorf("--store %q: give a postgres:// URL or an absolute SQLite file path", s.Store)
		}
		spec.Args = append(spec.Args, "--store", s.Store)
	}
	if s.StorePasswordFile != "" {
		if s.Store == "" {
			return fmt.Errorf("--store-password-file needs --store postgres://...")
		}
		if !path.IsAbs(s.StorePasswordFile) {
			return fmt.Errorf("--store-password-file %q: give an absolute path (the service does not start in this directory)", s.StorePasswordFile)
		}
		spec.Args = append(spec.Args, "--store-password-file", path.Clean(s.StorePasswordFile))
	}
	if s.Instance != "" {
		spec.Args = append(spec.Args, "--instance", s.Instance)
	}
	return nil
}
