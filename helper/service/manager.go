package service

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path"
	"path/filepath"
	"slices"
	"strings"

	kservice "github.com/kardianos/service"

	"github.com/pixie-boot/pixie/helper/paths"
)

// Controller is what Manager asks of the OS's service manager. A
// kardianos/service Service is one: Install writes the file its config
// carries and enables the service, Uninstall disables and removes it.
type Controller interface {
	Install() error
	Uninstall() error
	Start() error
	Stop() error
	Restart() error
	Status() (kservice.Status, error)
	Platform() string
}

// ErrNeedRoot is returned when a change to the system's services is asked
// for without root.
var ErrNeedRoot = errors.New("changing system services needs root")

// ErrNotInstalled is returned by Start, Stop and Restart when there is no
// pixie service.
var ErrNotInstalled = errors.New("the pixie service is not installed")

// Manager installs, removes and controls the pixie service.
type Manager struct {
	// GOOS selects systemd ("linux") or launchd ("darwin").
	GOOS string
	// Root is prepended to every path Manager reads or writes. "" is the
	// running system: kardianos/service writes the file and runs systemctl
	// or launchctl. Any other directory is a staging area (tests, image and
	// package builds): the file is written there and nothing else is done —
	// no service manager, no group, no root needed.
	Root string
	// Controller returns the service manager for cfg. nil: kardianos/service
	// on the running system, a files-only stager under another Root.
	Controller func(cfg *kservice.Config) (Controller, error)
	// EnsureGroup creates the socket group if it is missing and reports
	// whether it did. nil: `groupadd --system` on Linux when Root is "";
	// nothing otherwise (macOS's admin group always exists).
	EnsureGroup func(name string) (created bool, err error)
	// IsRoot reports whether the caller may change system services. nil:
	// the effective uid is 0.
	IsRoot func() bool
}

// InstallResult says what Install did.
type InstallResult struct {
	Spec Spec
	// Path is the file written (under Root).
	Path string
	// Unchanged: the same service was installed already; nothing was done.
	Unchanged bool
	// Replaced: another configuration was installed and --force replaced it.
	Replaced bool
	// GroupCreated: the socket group did not exist and was created.
	GroupCreated bool
	// Started: the service manager was asked to start the service.
	Started bool
}

// ConflictError is Install's refusal to replace a service installed with
// other settings without force.
type ConflictError struct {
	Path      string
	Installed string // the installed command line ("" if unreadable)
	Wanted    string
}

func (e *ConflictError) Error() string {
	inst := e.Installed
	if inst == "" {
		inst = "(unreadable)"
	}
	return fmt.Sprintf("the pixie service is already installed with other settings (%s):\n  installed: %s\n  asked for: %s\nreplace it with `sudo pixie install service --force` and the flags you want, or install it again for this pixie with its own flags: `sudo pixie install service --keep-flags`", e.Path, inst, e.Wanted)
}

func (m *Manager) live() bool { return m.Root == "" }

func (m *Manager) path(p string) string { return filepath.Join(m.Root, filepath.FromSlash(p)) }

func (m *Manager) checkRoot(what string) error {
	if !m.live() {
		return nil
	}
	isRoot := m.IsRoot
	if isRoot == nil {
		isRoot = func() bool { return os.Geteuid() == 0 }
	}
	if !isRoot() {
		return fmt.Errorf("%w: run `sudo pixie %s`", ErrNeedRoot, what)
	}
	return nil
}

func (m *Manager) controller(cfg *kservice.Config) (Controller, error) {
	if m.Controller != nil {
		return m.Controller(cfg)
	}
	if !m.live() {
		return &stager{root: m.Root, goos: m.GOOS, cfg: cfg}, nil
	}
	svc, err := kservice.New(program{}, cfg)
	if err != nil || m.GOOS != "darwin" {
		return svc, err
	}
	return newLaunchctl(svc, LaunchdPlistPath, nil), nil
}

// stateReporter is a Controller that says more than kardianos/service's
// three-valued Status (launchctlCtl: pid, last exit code).
type stateReporter interface {
	State() (status, detail string, err error)
}

// baseConfig is enough of the library's config to control an installed
// service (it needs only the name for that).
func (m *Manager) baseConfig() *kservice.Config {
	cfg, _ := Spec{GOOS: m.GOOS}.kardianosConfig(nil)
	return cfg
}

// wantPlatform is the kardianos/service platform pixie's files are for.
func (m *Manager) wantPlatform() string {
	if m.GOOS == "darwin" {
		return "darwin-launchd"
	}
	return "linux-systemd"
}

// Install installs spec as the pixie service, enables it at boot and starts
// it. The same service installed already is left alone; another one is
// replaced only with force.
func (m *Manager) Install(spec Spec, force bool) (InstallResult, error) {
	res := InstallResult{Spec: spec, Path: m.path(spec.FilePath())}
	content, err := spec.Render()
	if err != nil {
		return res, err
	}
	if err := m.checkRoot("install service"); err != nil {
		return res, err
	}
	existing, err := os.ReadFile(res.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return res, fmt.Errorf("read the installed service: %w", err)
	case bytes.Equal(existing, content) && !force:
		res.Unchanged = true
		return res, nil
	case !force:
		inst := ""
		if args, err := parseArgs(m.GOOS, existing); err == nil {
			inst = Spec{Executable: args[0], Args: args[1:]}.CommandLine()
		}
		return res, &ConflictError{Path: res.Path, Installed: inst, Wanted: spec.CommandLine()}
	default:
		res.Replaced = true
	}
	cfg, err := spec.kardianosConfig(content)
	if err != nil {
		return res, err
	}
	ctl, err := m.controller(cfg)
	if err != nil {
		return res, fmt.Errorf("no service manager found (is systemd running?): %w; run `pixie serve` under your own supervisor, or stage the file with --root", err)
	}
	if p := ctl.Platform(); p != m.wantPlatform() {
		return res, fmt.Errorf("this system's service manager is %s, not %s: pixie installs itself only as a %s service (run `pixie serve` under your own supervisor instead, or stage the file with --root)", p, m.wantPlatform(), spec.Kind())
	}
	if m.GOOS == "linux" {
		if res.GroupCreated, err = m.ensureGroup(spec.SocketGroup); err != nil {
			return res, err
		}
	}
	if err := m.makeDirs(spec); err != nil {
		return res, err
	}
	if m.GOOS == "darwin" {
		if err := m.writeNewsyslog(); err != nil {
			return res, err
		}
	}
	if res.Replaced {
		_ = ctl.Stop() // it may not be running
		if err := ctl.Uninstall(); err != nil {
			return res, managerFailed(m.GOOS, "remove the installed service before replacing it", err)
		}
	}
	if err := ctl.Install(); err != nil {
		return res, managerFailed(m.GOOS, "install the "+spec.Kind()+" service", err)
	}
	if m.live() {
		if err := ctl.Start(); err != nil {
			return res, managerFailed(m.GOOS, "the service is installed but did not start", err)
		}
		res.Started = true
	}
	return res, nil
}

func (m *Manager) ensureGroup(name string) (bool, error) {
	if m.EnsureGroup != nil {
		return m.EnsureGroup(name)
	}
	if !m.live() {
		return false, nil
	}
	return groupadd(name)
}

// groupadd creates a system group unless it exists.
func groupadd(name string) (bool, error) {
	if _, err := user.LookupGroup(name); err == nil {
		return false, nil
	}
	out, err := exec.Command("groupadd", "--system", name).CombinedOutput()
	if err != nil {
		return false, fmt.Errorf("create the control socket's group (groupadd --system %s): %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	return true, nil
}

// makeDirs creates what the service needs before it starts and its
// service manager does not create: a data or socket directory outside
// /var/lib and /run on Linux (the unit makes the rest of the system
// read-only), the log directory on macOS.
func (m *Manager) makeDirs(spec Spec) error {
	var dirs []string
	switch m.GOOS {
	case "darwin":
		dirs = []string{path.Dir(LaunchdLogFile)}
	default:
		if !strings.HasPrefix(spec.DataDir, "/var/lib/") {
			dirs = append(dirs, spec.DataDir)
		}
		if d := path.Dir(spec.Socket); !strings.HasPrefix(d, "/run/") {
			dirs = append(dirs, d)
		}
	}
	for _, d := range dirs {
		if err := os.MkdirAll(m.path(d), 0o755); err != nil {
			return fmt.Errorf("create %s for the service: %w", d, err)
		}
	}
	return nil
}

// writeNewsyslog installs pixie's log rotation rule for macOS's newsyslog.
func (m *Manager) writeNewsyslog() error {
	p := m.path(NewsyslogConfPath)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("create %s for pixie's log rotation rule: %v", path.Dir(NewsyslogConfPath), errors.Unwrap(err))
	}
	if err := os.WriteFile(p, []byte(NewsyslogConf()), 0o644); err != nil {
		return fmt.Errorf("write pixie's log rotation rule %s: %v", NewsyslogConfPath, errors.Unwrap(err))
	}
	return nil
}

// UninstallResult says what Uninstall did.
type UninstallResult struct {
	Path         string // the service file (under Root)
	WasInstalled bool
	DataDir      string // the installed service's data directory
	Purged       []string
}

// Uninstall stops and removes the service. The data directory (database,
// images) stays unless purge is set.
func (m *Manager) Uninstall(purge bool) (UninstallResult, error) {
	res := UninstallResult{Path: m.path(Spec{GOOS: m.GOOS}.FilePath())}
	if err := m.checkRoot("uninstall service"); err != nil {
		return res, err
	}
	spec := m.installedSpec()
	res.DataDir = spec.DataDir
	if _, err := os.Stat(res.Path); err == nil {
		res.WasInstalled = true
		ctl, err := m.controller(m.baseConfig())
		if err != nil {
			return res, err
		}
		_ = ctl.Stop() // it may not be running
		if err := ctl.Uninstall(); err != nil {
			return res, managerFailed(m.GOOS, "remove the "+spec.Kind()+" service", err)
		}
	}
	if m.GOOS == "darwin" {
		// The rotation rule goes with the service; the logs stay (purge
		// removes them).
		if err := os.Remove(m.path(NewsyslogConfPath)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return res, fmt.Errorf("remove %s (pixie's log rotation rule): %v; delete it by hand", NewsyslogConfPath, errors.Unwrap(err))
		}
	}
	if !purge {
		return res, nil
	}
	removed, err := m.purge(spec)
	res.Purged = removed
	return res, err
}

// purge removes the data directory, and on macOS the log directory. It
// refuses a data directory that does not look like pixie's.
func (m *Manager) purge(spec Spec) ([]string, error) {
	var removed []string
	dir := m.path(spec.DataDir)
	if spec.DataDir == "" || spec.DataDir == "/" || !path.IsAbs(spec.DataDir) {
		return nil, fmt.Errorf("refusing to purge data directory %q", spec.DataDir)
	}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		pixieOwn := []string{"pixie.db", "pixie.db-wal", "pixie.db-shm", "assets", "firmware", "images"}
		for _, e := range entries {
			if !slices.Contains(pixieOwn, e.Name()) {
				return nil, fmt.Errorf("not purging %s: it holds %q, which pixie did not put there; remove it yourself if you mean it", spec.DataDir, e.Name())
			}
		}
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("purge %s: %w", spec.DataDir, err)
		}
		removed = append(removed, spec.DataDir)
	}
	if m.GOOS == "darwin" {
		logDir := path.Dir(LaunchdLogFile)
		if err := os.RemoveAll(m.path(logDir)); err != nil {
			return removed, fmt.Errorf("purge %s: %w", logDir, err)
		}
		removed = append(removed, logDir)
	}
	return removed, nil
}

// installedSpec reads back the installed service's command line; with no
// readable service it is the OS defaults.
func (m *Manager) installedSpec() Spec {
	def := paths.For(m.GOOS)
	spec := Spec{GOOS: m.GOOS, DataDir: def.DataDir, Socket: def.Socket, SocketGroup: def.SocketGroup}
	content, err := os.ReadFile(m.path(spec.FilePath()))
	if err != nil {
		return spec
	}
	args, err := parseArgs(m.GOOS, content)
	if err != nil {
		return spec
	}
	spec.Executable, spec.Args = args[0], args[1:]
	for i := 0; i+1 < len(spec.Args); i++ {
		switch spec.Args[i] {
		case "--data-dir":
			spec.DataDir = spec.Args[i+1]
		case "--socket":
			spec.Socket = spec.Args[i+1]
		case "--socket-group":
			spec.SocketGroup = spec.Args[i+1]
		}
	}
	return spec
}

// Start, Stop and Restart ask the service manager to start, stop or
// restart the installed service.
func (m *Manager) Start() error   { return m.control("start", Controller.Start) }
func (m *Manager) Stop() error    { return m.control("stop", Controller.Stop) }
func (m *Manager) Restart() error { return m.control("restart", Controller.Restart) }

func (m *Manager) control(verb string, do func(Controller) error) error {
	if err := m.checkRoot(verb); err != nil {
		return err
	}
	if _, err := os.Stat(m.path(Spec{GOOS: m.GOOS}.FilePath())); err != nil {
		return fmt.Errorf("%w: install it with `sudo pixie install service`", ErrNotInstalled)
	}
	ctl, err := m.controller(m.baseConfig())
	if err != nil {
		return err
	}
	if err := do(ctl); err != nil {
		return managerFailed(m.GOOS, verb+" the pixie service", err)
	}
	return nil
}

// State is the service as `pixie status` and `pixie doctor` show it.
type State struct {
	Kind      string `json:"kind"` // systemd, launchd
	Path      string `json:"path"` // the unit or plist
	Installed bool   `json:"installed"`
	// Status is running, stopped, failed or unknown (no service manager
	// here, or it would not say).
	Status string `json:"status,omitempty"`
	// Detail is the service manager's own word on it, when it says more
	// ("pid 412", "last exit code 1").
	Detail      string `json:"detail,omitempty"`
	CommandLine string `json:"command_line,omitempty"` // what the service runs
	// Check is the command that shows the service manager's view.
	Check string `json:"check,omitempty"`
}

// CheckCommand is how a person asks the OS's service manager about pixie.
func CheckCommand(goos string) string {
	if goos == "darwin" {
		return "sudo launchctl print system/" + LaunchdLabel
	}
	return "systemctl status " + SystemdName
}

// State reads the installed service and asks the service manager whether
// it runs. It needs no root.
func (m *Manager) State() State {
	st := State{Kind: kindFor(m.GOOS), Path: m.path(Spec{GOOS: m.GOOS}.FilePath()), Check: CheckCommand(m.GOOS)}
	if _, err := os.Stat(st.Path); err != nil {
		return st
	}
	st.Installed = true
	if spec := m.installedSpec(); spec.Executable != "" {
		st.CommandLine = spec.CommandLine()
	}
	st.Status = "unknown"
	ctl, err := m.controller(m.baseConfig())
	if err != nil || ctl.Platform() != m.wantPlatform() {
		return st
	}
	if r, ok := ctl.(stateReporter); ok {
		status, detail, err := r.State()
		if err == nil {
			st.Status, st.Detail = status, detail
		}
		return st
	}
	switch s, err := ctl.Status(); {
	case err != nil && strings.Contains(err.Error(), "failed"):
		st.Status = "failed"
	case err != nil:
	case s == kservice.StatusRunning:
		st.Status = "running"
	case s == kservice.StatusStopped:
		st.Status = "stopped"
	}
	return st
}

// String is the state in one line: "installed (systemd), running".
func (s State) String() string {
	if !s.Installed {
		return fmt.Sprintf("not installed (%s; `sudo pixie install service` installs it)", s.Kind)
	}
	out := fmt.Sprintf("installed (%s)", s.Kind)
	if s.Status != "" {
		out += ", " + s.Status
	}
	if s.Detail != "" {
		out += " (" + s.Detail + ")"
	}
	return out
}

// parseArgs returns the executable and arguments of an installed unit or
// plist.
// InstalledArgs returns the installed service's command line, the
// executable first: what `pixie install service --keep-flags` installs
// again for a new pixie.
func (m *Manager) InstalledArgs() ([]string, error) {
	p := m.path(Spec{GOOS: m.GOOS}.FilePath())
	content, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: install it with `sudo pixie install service`", ErrNotInstalled)
	}
	if err != nil {
		return nil, fmt.Errorf("read the installed service %s: %w", p, err)
	}
	args, err := parseArgs(m.GOOS, content)
	if err != nil || len(args) < 2 || args[1] != "serve" {
		return nil, fmt.Errorf("%s does not run `pixie serve` the way pixie writes it: replace it with `sudo pixie install service --force` and the flags you want", p)
	}
	return args, nil
}

func parseArgs(goos string, content []byte) ([]string, error) {
	if goos == "darwin" {
		return parseLaunchdArgs(content)
	}
	return parseExecStart(string(content))
}

// parseExecStart splits the ExecStart line of a unit pixie rendered (the
// quoting systemdQuote produces).
func parseExecStart(unit string) ([]string, error) {
	for l := range strings.Lines(unit) {
		v, ok := strings.CutPrefix(strings.TrimSpace(l), "ExecStart=")
		if !ok {
			continue
		}
		var args []string
		var cur strings.Builder
		inWord, quoted := false, false
		for i := 0; i < len(v); i++ {
			c := v[i]
			switch {
			case quoted && c == '\\' && i+1 < len(v):
				i++
				switch v[i] {
				case 'n':
					cur.WriteByte('\n')
				case 't':
					cur.WriteByte('\t')
				default:
					cur.WriteByte(v[i])
				}
			case c == '"':
				quoted, inWord = !quoted, true
			case !quoted && (c == ' ' || c == '\t'):
				if inWord {
					args = append(args, cur.String())
					cur.Reset()
					inWord = false
				}
			case (c == '%' || c == '$') && i+1 < len(v) && v[i+1] == c:
				cur.WriteByte(c)
				i++
				inWord = true
			default:
				cur.WriteByte(c)
				inWord = true
			}
		}
		if inWord {
			args = append(args, cur.String())
		}
		if len(args) == 0 {
			break
		}
		return args, nil
	}
	return nil, errors.New("no ExecStart line")
}

// program satisfies kardianos/service's Interface, which only Run uses:
// pixie runs the daemon with `pixie serve`, never through the library.
type program struct{}

func (program) Start(kservice.Service) error { return nil }
func (program) Stop(kservice.Service) error  { return nil }

// stager is the Controller under a Root other than "/": it writes and
// removes the file where the service manager would read it, and controls
// nothing.
type stager struct {
	root, goos string
	cfg        *kservice.Config
}

var errStaged = errors.New("staged under another root: no service manager to ask")

func (s *stager) file() string {
	return filepath.Join(s.root, filepath.FromSlash(Spec{GOOS: s.goos}.FilePath()))
}

func (s *stager) Install() error {
	f := s.file()
	if _, err := os.Stat(f); err == nil {
		return fmt.Errorf("%s already exists", f)
	}
	key := "SystemdScript"
	if s.goos == "darwin" {
		key = "LaunchdConfig"
	}
	content, _ := s.cfg.Option[key].(string)
	if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
		return err
	}
	return os.WriteFile(f, []byte(content), 0o644)
}

func (s *stager) Uninstall() error { return os.Remove(s.file()) }
func (s *stager) Start() error     { return errStaged }
func (s *stager) Stop() error      { return errStaged }
func (s *stager) Restart() error   { return errStaged }
func (s *stager) Status() (kservice.Status, error) {
	if _, err := os.Stat(s.file()); err != nil {
		return kservice.StatusUnknown, kservice.ErrNotInstalled
	}
	return kservice.StatusUnknown, nil // installed; whether it runs is not known here
}
func (s *stager) Platform() string {
	if s.goos == "darwin" {
		return "darwin-launchd"
	}
	return "linux-systemd"
}
