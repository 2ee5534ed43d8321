package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/helper/service"
)

// serviceManager is the service manager of this OS, under root ("" for the
// running system).
func serviceManager(root string) *service.Manager {
	return &service.Manager{GOOS: runtime.GOOS, Root: root}
}

func newInstallCmd(c *cli) *cobra.Command {
	cmd := groupCmd(&cobra.Command{
		Use:   "install",
		Short: "Install pixie as a system service (`pixie install service`)",
	})
	cmd.AddCommand(newInstallServiceCmd(c))
	return cmd
}

func newUninstallCmd(c *cli) *cobra.Command {
	cmd := groupCmd(&cobra.Command{
		Use:   "uninstall",
		Short: "Remove the pixie system service (`pixie uninstall service`)",
	})
	cmd.AddCommand(newUninstallServiceCmd(c))
	return cmd
}

func newInstallServiceCmd(c *cli) *cobra.Command {
	var (
		s            service.Settings
		force        bool
		root         string
		executable   string
		eventsMaxAge string
		keepFlags    bool
	)
	cmd := &cobra.Command{
		Use:   "service",
		Short: "Run `pixie serve` at boot as a systemd service (Linux) or LaunchDaemon (macOS)",
		Long: `Install pixie as a system service that runs ` + "`pixie serve`" + ` at boot and restarts
it if it fails: a systemd unit (/etc/systemd/system/pixie.service) on Linux,
Fedora CoreOS and Flatcar, a LaunchDaemon (/Library/LaunchDaemons/` + service.LaunchdLabel + `.plist)
on macOS. The flags are ` + "`pixie serve`" + `'s; the ones you give end up on the service's
command line (shown by ` + "`pixie status`" + `). The service is enabled and started.

On Linux the daemon runs as root with only CAP_NET_BIND_SERVICE and
CAP_NET_RAW and a read-only view of the system except its data directory
(/var/lib/pixie) and socket (/run/pixie); the group pixie is created if
missing: its members may use the CLI without sudo. On macOS the daemon logs
to ` + service.LaunchdLogFile + ` and members of admin may use the CLI.

Installing the same service again changes nothing; installing with other
flags needs --force. Needs root, except with --root, which only writes the
service file under another directory (for building images and packages).`,
		Example: `  sudo pixie install service
  sudo pixie install service --interface eth0 --http-port 8081
  sudo pixie install service --force --interface en5
  pixie install service --root ./stage     # writes ./stage/etc/systemd/system/pixie.service`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f := cmd.Flag("socket"); f != nil && f.Changed {
				s.Socket = f.Value.String()
			}
			exe, err := serviceExecutable(executable, cmd.Flags().Changed("executable"))
			if err != nil {
				return err
			}
			if keepFlags {
				if err := installedSettings(cmd, serviceManager(root), &s, &eventsMaxAge); err != nil {
					return err
				}
				force = true // the file changes by design: new defaults, this binary
			}
			if s.EventsMaxAge, err = retentionFlags(s.EventsMax, eventsMaxAge); err != nil {
				return err
			}
			if !keepFlags { // installedSettings read the installed --dhcp
				if err := dhcpFlags(cmd.Flags(), &s); err != nil {
					return err
				}
			}
			// The password file is read now only to say early what is
			// wrong with it; the service reads it at every start.
			if err := checkInstance(s.Instance); err != nil {
				return err
			}
			if _, err := storePassword(s, func(string) string { return "" }); err != nil {
				return err
			}
			spec, err := s.Spec(runtime.GOOS, exe)
			if err != nil {
				return usageError(err)
			}
			res, err := serviceManager(root).Install(spec, force)
			if err != nil {
				return serviceError("could not install the pixie service", err)
			}
			if c.json {
				return printJSON(c.out, res)
			}
			_, err = fmt.Fprint(c.out, formatInstall(res, root, runtime.GOOS))
			return err
		},
	}
	f := cmd.Flags()
	addServeFlags(f, &s, &eventsMaxAge)
	f.BoolVar(&force, "force", false, "replace a pixie service installed with other flags")
	f.BoolVar(&s.DHCPForce, "dhcp-force", false, "the service starts full DHCP mode even beside another DHCP server (`pixie serve --dhcp --force`)")
	f.StringVar(&root, "root", "", "write the service file under `DIR` instead of installing it (no root needed; nothing is started)")
	f.StringVar(&executable, "executable", "", "the pixie binary the service runs (default: this one)")
	f.BoolVar(&keepFlags, "keep-flags", false, "install the service again, for this pixie, with the flags it already has (what the macOS package does on an upgrade)")
	return cmd
}

// installedSettings reads the installed service's `pixie serve` flags into
// s (and the event age into age), for --keep-flags. Other serve flags may
// not be given with it: which would win is not obvious.
func installedSettings(cmd *cobra.Command, m *service.Manager, s *service.Settings, age *string) error {
	serveFlags := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	addServeFlags(serveFlags, &service.Settings{}, new(string))
	var given []string
	serveFlags.VisitAll(func(f *pflag.Flag) {
		if g := cmd.Flags().Lookup(f.Name); g != nil && g.Changed {
			given = append(given, "--"+f.Name)
		}
	})
	if len(given) > 0 {
		return usageErrorf("--keep-flags keeps the installed service's flags: drop %s, or give the flags you want with --force instead", strings.Join(given, " "))
	}
	args, err := m.InstalledArgs()
	if err != nil {
		return serviceError("could not read the installed service", err)
	}
	installed := pflag.NewFlagSet("installed", pflag.ContinueOnError)
	installed.SetOutput(io.Discard)
	*s = service.Settings{}
	addServeFlags(installed, s, age)
	installed.StringVar(&s.Socket, "socket", "", "")
	// Set by Settings.Spec itself where the OS needs them (launchd).
	installed.String("log-file", "", "")
	installed.String("pid-file", "", "")
	// serve's own name for what install service calls --dhcp-force.
	installed.BoolVar(&s.DHCPForce, "force", false, "")
	if err := installed.Parse(args[2:]); err != nil {
		return fmt.Errorf("the installed service runs `%s`, with a flag this pixie does not know (%v): replace it with `sudo pixie install service --force` and the flags you want", strings.Join(args, " "), err)
	}
	if err := dhcpFlags(installed, s); err != nil {
		return fmt.Errorf("the installed service runs `%s`, which `pixie serve` refuses (%v): replace it with `sudo pixie install service --force` and the flags you want", strings.Join(args, " "), err)
	}
	if installed.NArg() > 0 {
		return fmt.Errorf("the installed service runs `%s`, with arguments `pixie serve` does not take: replace it with `sudo pixie install service --force` and the flags you want", strings.Join(args, " "))
	}
	// Flags the installed service does not name take this pixie's
	// defaults, which Settings.Spec leaves off the command line, as on a
	// first install; "" is the OS's own for these two.
	if !installed.Changed("data-dir") {
		s.DataDir = ""
	}
	if !installed.Changed("socket-group") {
		s.SocketGroup = ""
	}
	return nil
}

// serviceExecutable is the binary the service will run: this one unless
// told otherwise. A binary in the temporary directory (`go run`) would
// vanish, so it is refused unless given explicitly.
func serviceExecutable(flag string, given bool) (string, error) {
	if given {
		abs, err := filepath.Abs(flag)
		if err != nil {
			return "", err
		}
		if fi, err := os.Stat(abs); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return "", usageErrorf("--executable %s: not an executable file", flag)
		}
		return abs, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("cannot tell where this pixie binary is (%v): give it with --executable", err)
	}
	tmp := filepath.Clean(os.TempDir()) + string(filepath.Separator)
	if strings.HasPrefix(exe, tmp) {
		return "", fmt.Errorf("this pixie binary is in a temporary directory (%s), so a service running it would break: install pixie first (e.g. /usr/local/bin/pixie), then run that one, or give --executable", exe)
	}
	return exe, nil
}

// formatInstall says what install did, where, and how to check it.
func formatInstall(res service.InstallResult, root, goos string) string {
	var b strings.Builder
	kind := res.Spec.Kind()
	switch {
	case res.Unchanged:
		fmt.Fprintf(&b, "the pixie service is already installed (%s, %s): nothing changed\n", kind, res.Path)
		fmt.Fprintf(&b, "  runs   %s\n", res.Spec.CommandLine())
		fmt.Fprintf(&b, "to change its flags: sudo pixie install service --force [flags]\n")
	case root != "":
		fmt.Fprintf(&b, "staged the pixie service (%s) at %s\n", kind, res.Path)
		fmt.Fprintf(&b, "  runs   %s\n", res.Spec.CommandLine())
		fmt.Fprintf(&b, "nothing was started or enabled: the file is for the system rooted at %s", root)
		if goos == "linux" {
			fmt.Fprintf(&b, " (which needs the group %s: groupadd --system %s)", res.Spec.SocketGroup, res.Spec.SocketGroup)
		}
		b.WriteString("\n")
		return b.String()
	default:
		verb := "installed"
		if res.Replaced {
			verb = "replaced"
		}
		fmt.Fprintf(&b, "%s the pixie service (%s): %s\n", verb, kind, res.Path)
		fmt.Fprintf(&b, "  runs   %s\n", res.Spec.CommandLine())
		fmt.Fprintf(&b, "  data   %s\n", res.Spec.DataDir)
		if goos == "darwin" {
			fmt.Fprintf(&b, "  logs   %s\n", service.LaunchdLogFile)
		} else {
			fmt.Fprintf(&b, "  logs   journalctl -u %s\n", service.SystemdName)
		}
		if res.GroupCreated {
			fmt.Fprintf(&b, "  group  created %s: add yourself to use pixie without sudo (sudo usermod -aG %s $USER, then log in again)\n", res.Spec.SocketGroup, res.Spec.SocketGroup)
		}
		if res.Started {
			b.WriteString("  started, and starts at every boot\n")
		}
	}
	fmt.Fprintf(&b, "check it: %s    (and `pixie status`, `pixie doctor`)\n", service.CheckCommand(goos))
	return b.String()
}

func newUninstallServiceCmd(c *cli) *cobra.Command {
	var purge bool
	var root string
	cmd := &cobra.Command{
		Use:   "service",
		Short: "Stop and remove the pixie service; the database stays unless --purge",
		Long: `Stop the pixie service, disable it and remove its unit (Linux) or
LaunchDaemon (macOS). The data directory — database, images, firmware
overrides — stays, so installing again brings back every profile and
machine; --purge removes it too (and on macOS the log directory). The
socket group is left in place.`,
		Example: `  sudo pixie uninstall service
  sudo pixie uninstall service --purge`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := serviceManager(root).Uninstall(purge)
			if err != nil {
				return serviceError("could not uninstall the pixie service", err)
			}
			if c.json {
				return printJSON(c.out, res)
			}
			var b strings.Builder
			if res.WasInstalled {
				fmt.Fprintf(&b, "removed the pixie service: %s\n", res.Path)
			} else {
				fmt.Fprintf(&b, "the pixie service was not installed (no %s)\n", res.Path)
			}
			switch {
			case len(res.Purged) > 0:
				fmt.Fprintf(&b, "purged %s\n", strings.Join(res.Purged, ", "))
			case purge:
				fmt.Fprintf(&b, "nothing to purge: %s does not exist\n", res.DataDir)
			default:
				fmt.Fprintf(&b, "kept the data in %s (remove it with `sudo pixie uninstall service --purge`)\n", res.DataDir)
			}
			_, err = fmt.Fprint(c.out, b.String())
			return err
		},
	}
	cmd.Flags().BoolVar(&purge, "purge", false, "also remove the data directory (database, images)")
	cmd.Flags().StringVar(&root, "root", "", "remove the service file staged under `DIR`")
	return cmd
}

// newServiceControlCmd is `pixie start`, `stop` or `restart`.
func newServiceControlCmd(c *cli, verb, short string, do func(*service.Manager) error) *cobra.Command {
	return &cobra.Command{
		Use:     verb,
		Short:   short,
		Long:    short + ". It asks " + serviceKind() + ", so the service must be installed (`sudo pixie install service`); to run pixie by hand use `sudo pixie serve`.",
		Example: "  sudo pixie " + verb,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m := serviceManager("")
			if err := do(m); err != nil {
				return serviceError("could not "+verb+" the pixie service", err)
			}
			st := m.State()
			if c.json {
				return printJSON(c.out, st)
			}
			_, err := fmt.Fprintf(c.out, "pixie service %s: %s\n", pastTense(verb), st)
			return err
		},
	}
}

func serviceKind() string {
	if runtime.GOOS == "darwin" {
		return "launchd"
	}
	return "systemd"
}

func pastTense(verb string) string {
	switch verb {
	case "stop":
		return "stopped"
	case "restart":
		return "restarted"
	}
	return "started"
}

func newStartCmd(c *cli) *cobra.Command {
	return newServiceControlCmd(c, "start", "Start the installed pixie service", (*service.Manager).Start)
}

func newStopCmd(c *cli) *cobra.Command {
	return newServiceControlCmd(c, "stop", "Stop the pixie service until `pixie start` or the next boot", (*service.Manager).Stop)
}

func newRestartCmd(c *cli) *cobra.Command {
	return newServiceControlCmd(c, "restart", "Restart the pixie service", (*service.Manager).Restart)
}

// serviceStatus is the service's state for `pixie status`.
func serviceStatus() service.State { return serviceManager("").State() }

// formatServiceLine is `pixie status`'s service line, aligned with
// formatStatus's fields.
func formatServiceLine(st service.State) string {
	line := fmt.Sprintf("%-12s%s\n", "service:", st)
	if st.CommandLine != "" {
		line += fmt.Sprintf("%-12s%s\n", "", st.CommandLine)
	}
	return line
}

// statusWithService is `pixie status --json`: the daemon's status with the
// service's state beside it.
type statusWithService struct {
	api.Status
	Service service.State `json:"service"`
}
