package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pixie-boot/pixie/daemon/api"
)

// Exit codes: 1 when something failed, 2 when the command line was wrong.
const (
	exitFailure = 1
	exitUsage   = 2
)

// callTimeout bounds one request to the daemon, so a wedged daemon does not
// hang the CLI; streams (boots --follow) have none.
const callTimeout = 30 * time.Second

// cli is what every command shares: global flags and where output goes.
type cli struct {
	socket string
	json   bool
	in     io.Reader
	out    io.Writer
	errOut io.Writer
	now    func() time.Time
}

// run executes the pixie command line and returns the process exit code.
// Errors are printed as their message alone: usage is shown only for
// command-line mistakes, never for a failure at run time.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return (&cli{in: stdin, out: stdout, errOut: stderr, now: time.Now}).run(ctx, args)
}

func (c *cli) run(ctx context.Context, args []string) int {
	stdin, stdout, stderr := c.in, c.out, c.errOut
	root := newRootCmd(c)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		fmt.Fprintln(stderr, "interrupted")
		return exitFailure
	}
	fmt.Fprintln(stderr, err)
	if isUsageError(err) {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return exitUsage
	}
	return exitFailure
}

func newRootCmd(c *cli) *cobra.Command {
	root := groupCmd(&cobra.Command{
		Use:   "pixie",
		Short: "Network-boot CoreOS machines: proxyDHCP, TFTP and HTTP in one daemon",
		Long: `pixie network-boots Fedora CoreOS, Flatcar and other Linux machines on your
LAN, next to the network's own DHCP server. ` + "`sudo pixie serve`" + ` runs the daemon;
the other commands talk to it over its control socket, as root or as a member
of the socket's group (pixie on Linux, admin on macOS).

Machines pixie has no record of boot the default "first-time" profile. Watch
them with ` + "`pixie boots --follow`" + `, then give each one a profile and a hostname
with ` + "`pixie machines set`" + `.`,
		Example: `  sudo pixie serve
  pixie status
  pixie boots --follow
  pixie profiles add fcos --os fedora-coreos --kernel fcos/kernel \
      --initrd fcos/initramfs.img --initrd fcos/rootfs.img --ignition node.ign
  pixie machines set 90:2b:34:14:f6:6a --profile fcos --hostname node1
  pixie timeline 90:2b:34:14:f6:6a`,
		Version:       version,
		SilenceErrors: true,
		SilenceUsage:  true,
	})
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(flagError(err)) })
	pf := root.PersistentFlags()
	pf.StringVar(&c.socket, "socket", api.DefaultSocketPath(),
		"the daemon's control socket `PATH` (or set $"+api.SocketEnv+")")
	pf.BoolVar(&c.json, "json", false, "print the result as JSON, for scripts")

	root.AddCommand(
		newServeCmd(),
		newStatusCmd(c),
		newPauseCmd(c),
		newResumeCmd(c),
		newMachinesCmd(c),
		newProfilesCmd(c),
		newImportCmd(c),
		newImagesCmd(c),
		newBootsCmd(c),
		newTimelineCmd(c),
		newLeasesCmd(c),
		newInstallCmd(c),
		newUninstallCmd(c),
		newStartCmd(c),
		newStopCmd(c),
		newRestartCmd(c),
		newDoctorCmd(c),
		newUICmd(c),
		newStoreCmd(c),
	)
	return root
}

// socketPath returns the --socket flag's value as seen by cmd.
func socketPath(cmd *cobra.Command) string {
	if f := cmd.Flag("socket"); f != nil {
		return f.Value.String()
	}
	return api.DefaultSocketPath()
}

// client returns a client for the daemon on --socket.
func (c *cli) client() *api.Client { return api.NewClient(c.socket) }

// callCtx bounds one request to the daemon.
func callCtx(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), callTimeout)
}

// groupCmd makes cmd a command that only holds subcommands: alone it shows
// its help; with an unknown subcommand it is a usage error (cobra would
// otherwise show the help and succeed).
func groupCmd(cmd *cobra.Command) *cobra.Command {
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		var names []string
		for _, sub := range cmd.Commands() {
			if sub.IsAvailableCommand() {
				names = append(names, sub.Name())
			}
		}
		msg := fmt.Sprintf("unknown command %q for %q: use one of %s", args[0], cmd.CommandPath(), strings.Join(names, ", "))
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf(" (did you mean %q?)", s[0])
		}
		return usageError(errors.New(msg))
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	cmd.SuggestionsMinimumDistance = 2
	return cmd
}
