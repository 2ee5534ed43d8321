package main

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pixie-boot/pixie/daemon/api"
)

// maxIgnitionBytes leaves room in the daemon's 1 MiB request limit for the
// rest of the profile.
const maxIgnitionBytes = api.MaxBodyBytes - 64<<10

func newProfilesCmd(c *cli) *cobra.Command {
	cmd := groupCmd(&cobra.Command{
		Use:     "profiles",
		Aliases: []string{"profile"},
		Short:   "List, show, add, edit and remove boot profiles",
		Long: `A profile says how a machine boots: the kernel and initrds (paths inside the
daemon's asset store, or http(s) URLs), the kernel arguments, and the
Ignition config (JSON or Butane) the machine gets. Both are Go templates
filled in per machine: {{.MAC}}, {{.Hostname}}, {{.Vars.NAME}} (the
profile's --var, or the machine's own), in kernel arguments {{.IgnitionURL}}
and in configs {{.PhoneHomeURL}} (the profile's --phone-home). Insert
values with the json function, as in "name": {{json .Vars.user}}, which
quotes and escapes the value (in Butane YAML too).

Machines pixie does not know boot the default profile, "first-time".`,
		Example: `  pixie profiles list
  pixie profiles add fcos --os fedora-coreos --kernel fcos/kernel \
      --initrd fcos/initramfs.img --initrd fcos/rootfs.img \
      --args "ignition.firstboot ignition.platform.id=metal ignition.config.url={{.IgnitionURL}}" \
      --ignition node.ign
  pixie profiles edit fcos --ignition - < node.ign
  pixie profiles show fcos`,
	})
	cmd.AddCommand(newProfilesListCmd(c), newProfilesShowCmd(c), newProfilesAddCmd(c), newProfilesEditCmd(c), newProfilesRmCmd(c))
	return cmd
}

func newProfilesListCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the boot profiles",
		Long:    "List every profile with its OS, kernel, number of initrds and how many machines use it.",
		Example: "  pixie profiles list\n  pixie profiles list --json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := callCtx(cmd)
			defer cancel()
			client := c.client()
			ps, err := client.Profiles(ctx)
			if err != nil {
				return err
			}
			if c.json {
				return printJSON(c.out, ps)
			}
			ms, err := client.Machines(ctx)
			if err != nil {
				return err
			}
			users := map[string]int{}
			for _, m := range ms {
				users[m.Profile]++
			}
			_, err = fmt.Fprint(c.out, formatProfiles(ps, users))
			return err
		},
	}
}

func newProfilesShowCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "show NAME",
		Short:   "Show a profile, including its Ignition config",
		Long:    "Show every field of a profile, the machines that use it and its full Ignition config.",
		Example: "  pixie profiles show first-time\n  pixie profiles show fcos --json | jq -r .ignition",
		Args:    exactArgs(1, "one profile name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := callCtx(cmd)
			defer cancel()
			client := c.client()
			p, err := client.Profile(ctx, args[0])
			if err != nil {
				return profileErr(err, args[0])
			}
			if c.json {
				return printJSON(c.out, p)
			}
			ms, err := client.Machines(ctx)
			if err != nil {
				return err
			}
			var users []string
			for _, m := range ms {
				if m.Profile == p.Name {
					users = append(users, m.MAC)
				}
			}
			_, err = fmt.Fprint(c.out, formatProfile(p, users, c.now()))
			return err
		},
	}
}

// profileErr turns "not found" into what to do about it.
func profileErr(err error, name string) error {
	if api.IsCode(err, api.CodeNotFound) {
		return fmt.Errorf("there is no profile %q (see `pixie profiles list`; `pixie profiles add %s --kernel PATH` creates it)", name, name)
	}
	return err
}

// profileFlags are the flags of `profiles add` and `profiles edit`.
type profileFlags struct {
	kernel       string
	initrds      []string
	clearInitrds bool
	args         string
	ignition     string // file name, or "-" for stdin
	os           string
	description  string
	phoneHome    string
	ignitionSpec string
	vars         []string // NAME=VALUE
	unsetVars    []string // edit only
}

var varNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

func (pf *profileFlags) register(f *pflag.FlagSet, edit bool) {
	f.StringVar(&pf.kernel, "kernel", "", "kernel: a `PATH` inside the daemon's asset store, or an http(s) URL")
	f.StringArrayVar(&pf.initrds, "initrd", nil, "initrd `PATH` or URL, like --kernel (repeatable, in order)")
	f.StringVar(&pf.args, "args", "", "kernel `ARGS` (a template: {{.IgnitionURL}}, {{.Hostname}}, {{.Vars.NAME}})")
	f.StringVar(&pf.ignition, "ignition", "", "Ignition config (JSON, or Butane YAML) read from this local `FILE`, or - for stdin")
	defOS := "generic"
	if edit {
		defOS = "" // edit keeps the current one
	}
	f.StringVar(&pf.os, "os", defOS, "`OS` kind: generic, fedora-coreos, flatcar or container-linux")
	f.StringVar(&pf.description, "description", "", "a `TEXT` saying what the profile is for")
	f.StringVar(&pf.phoneHome, "phone-home", "", "where the booted OS reports it is up ({{.PhoneHomeURL}}): `URL` (a template like --args), default (pixie's own /phone-home, which records the booted stage; the default) or none")
	f.StringVar(&pf.ignitionSpec, "ignition-spec", "", "the newest Ignition spec `VERSION` the OS reads (e.g. 3.3.0 for Ignition 2.14): configs are served at it or refused; empty: from --os")
	f.StringArrayVar(&pf.vars, "var", nil, "set a template variable {{.Vars.NAME}}, `NAME=VALUE` (repeatable; a machine's own variable of the same name wins)")
	if edit {
		f.BoolVar(&pf.clearInitrds, "clear-initrds", false, "remove all initrds")
		f.StringArrayVar(&pf.unsetVars, "unset-var", nil, "remove the template variable `NAME` (repeatable)")
	}
}

// read checks the flags and reads the Ignition config, before anything is
// asked of the daemon. The file is read here, in the CLI, with the caller's
// own permissions: the daemon never opens a path a client names.
func (pf *profileFlags) read(f *pflag.FlagSet, stdin io.Reader) (ignition string, err error) {
	if f.Changed("initrd") && pf.clearInitrds {
		return "", usageErrorf("give --initrd or --clear-initrds, not both")
	}
	if f.Changed("phone-home") {
		switch ph := pf.phoneHome; {
		case ph == "default" || ph == "none":
		case strings.HasPrefix(ph, "http://") || strings.HasPrefix(ph, "https://"):
			if strings.ContainsAny(ph, " \t\r\n\"'\\") {
				return "", usageErrorf("--phone-home %q: a URL has no spaces, quotes or backslashes", ph)
			}
		default:
			return "", usageErrorf("--phone-home %q: give an http:// or https:// URL, default (pixie's own /phone-home) or none", ph)
		}
	}
	for _, kv := range pf.vars {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || !varNameRE.MatchString(k) {
			return "", usageErrorf("--var %q: write it as NAME=VALUE, NAME of letters, digits and '_', starting with a letter or '_'", kv)
		}
	}
	for _, k := range pf.unsetVars {
		for _, kv := range pf.vars {
			if strings.HasPrefix(kv, k+"=") {
				return "", usageErrorf("--var %s and --unset-var %s: give one of them", kv, k)
			}
		}
	}
	if !f.Changed("ignition") {
		return "", nil
	}
	flag := "--ignition"
	if f.Changed("butane") {
		flag = "--butane"
	}
	return readIgnition(flag, pf.ignition, stdin)
}

// apply sets the fields whose flags were given; ignition is what read
// returned.
func (pf *profileFlags) apply(f *pflag.FlagSet, ignition string, p *api.Profile) {
	set := func(name string, apply func()) {
		if f.Changed(name) {
			apply()
		}
	}
	set("kernel", func() { p.Kernel = pf.kernel })
	set("initrd", func() { p.Initrds = pf.initrds })
	set("clear-initrds", func() { p.Initrds = []string{} })
	set("args", func() { p.Args = pf.args })
	set("os", func() { p.OS = pf.os })
	set("description", func() { p.Description = pf.description })
	set("ignition", func() { p.Ignition = ignition })
	set("phone-home", func() { p.PhoneHome = pf.phoneHome })
	set("ignition-spec", func() { p.IgnitionSpec = pf.ignitionSpec })
	for _, kv := range pf.vars {
		k, v, _ := strings.Cut(kv, "=")
		if p.Vars == nil {
			p.Vars = map[string]string{}
		}
		p.Vars[k] = v
	}
}

// unset removes the --unset-var variables; each must exist.
func (pf *profileFlags) unset(p *api.Profile) error {
	for _, k := range pf.unsetVars {
		if _, ok := p.Vars[k]; !ok {
			return usageErrorf("--unset-var %s: profile %s has no variable %s", k, p.Name, k)
		}
		delete(p.Vars, k)
	}
	return nil
}

// readIgnition reads an Ignition config from the file flag names, or stdin
// ("-").
func readIgnition(flag, name string, stdin io.Reader) (string, error) {
	var b []byte
	var err error
	if name == "-" {
		name = "standard input"
		if b, err = io.ReadAll(io.LimitReader(stdin, maxIgnitionBytes+1)); err != nil {
			return "", fmt.Errorf("read the Ignition config from standard input: %w", err)
		}
	} else if b, err = readUserFile(flag, name, maxIgnitionBytes); err != nil {
		return "", err
	}
	if len(b) > maxIgnitionBytes {
		return "", fmt.Errorf("the Ignition config in %s is larger than %d KiB: serve big files from the asset store and reference them from the config", name, maxIgnitionBytes>>10)
	}
	if strings.TrimSpace(string(b)) == "" {
		return "", fmt.Errorf("the Ignition config in %s is empty", name)
	}
	return string(b), nil
}

func newProfilesAddCmd(c *cli) *cobra.Command {
	var pf profileFlags
	var of osFlags
	var butane string
	var replace bool
	cmd := &cobra.Command{
		Use:   "add NAME [--kernel PATH | --os fedora-coreos|flatcar]",
		Short: "Add a boot profile",
		Long: `Add a profile. NAME is 1-63 lower-case letters, digits, '.', '_' or '-'.
--kernel and --initrd name files inside the daemon's asset store (its data
directory's assets/ folder), or http(s) URLs. --ignition (or --butane) reads
a local file (or - for standard input) and stores its content in the
profile: Ignition JSON 3.x or Butane YAML, validated when stored.

With --os fedora-coreos or flatcar and no --kernel, the kernel, initrds and
kernel arguments come from the latest image ` + "`pixie images pull`" + ` fetched
(--stream for Fedora CoreOS, --channel for Flatcar, and --arch choose which;
when none is pulled pixie says which pull command fetches it) and the
distribution's documented arguments (Fedora CoreOS live PXE or, with --mode
install, install to --install-dev).
--ssh-key generates the guide's first-time config: user core with your key,
the machine's hostname, and a unit that calls the phone-home URL when the
OS is up. --phone-home says where: default is pixie's own /phone-home,
which records the machine's final "booted" stage; a URL of your own (a
template, e.g. https://inventory.example/up?mac={{.MAC}}) is called after
it; none leaves the unit out. Configs use it as {{.PhoneHomeURL}}.
--var NAME=VALUE sets a template variable for every machine booting the
profile ({{.Vars.NAME}}); a machine's own variable of that name wins.`,
		Example: `  pixie profiles add fcos --os fedora-coreos --kernel fcos/kernel \
      --initrd fcos/initramfs.img --initrd fcos/rootfs.img \
      --args "ignition.firstboot ignition.platform.id=metal ignition.config.url={{.IgnitionURL}}" \
      --ignition node.ign --description "Fedora CoreOS, live PXE"
  pixie profiles add first-time --replace --os fedora-coreos --stream stable --ssh-key ~/.ssh/coreos-pxe.pub
  pixie profiles add fcos-disk --os fedora-coreos --mode install --install-dev /dev/sda --butane node.bu
  pixie profiles add flatcar --os flatcar --channel stable --arch aarch64 --butane node.bu
  pixie profiles add workers --os fedora-coreos --stream testing --ssh-key ~/.ssh/id.pub --var role=worker \
      --phone-home "https://inventory.example/up?mac={{.MAC}}"`,
		Args: exactArgs(1, "one profile name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			if f.Changed("butane") {
				if f.Changed("ignition") {
					return usageErrorf("give --ignition or --butane, not both")
				}
				pf.ignition = butane
				f.Set("ignition", butane)
			}
			ignition, err := pf.read(f, c.in)
			if err != nil {
				return err
			}
			p := api.Profile{Name: args[0], OS: pf.os}
			pf.apply(f, ignition, &p)
			save := "create"
			if replace {
				// The seeded first-time profile is the usual target: the
				// guide's first boot is one command, not add-then-edit.
				save = "replace"
			}
			// The daemon fills in the kernel, initrds and arguments from
			// its pulled image and the OS's documented arguments, where
			// not given.
			req, err := of.request(f, p, save)
			if err != nil {
				return err
			}
			ctx, cancel := callCtx(cmd)
			defer cancel()
			res, err := c.saveFromOS(ctx, req)
			if api.IsCode(err, api.CodeExists) {
				return fmt.Errorf("profile %q already exists: replace it with `pixie profiles add %s --replace …`, or change some fields with `pixie profiles edit %s`", args[0], args[0], args[0])
			}
			if err != nil {
				return err
			}
			p, verb := res.Profile, res.Saved
			if c.json {
				return printJSON(c.out, p)
			}
			_, err = fmt.Fprintf(c.out, "profile %s %s: %s kernel %s, %d initrd(s)\n", p.Name, verb, p.OS, p.Kernel, len(p.Initrds))
			return err
		},
	}
	pf.register(cmd.Flags(), false)
	of.register(cmd.Flags(), false)
	cmd.Flags().StringVar(&butane, "butane", "", "Butane config (YAML, variant fcos or flatcar) read from this local `FILE`, or - for stdin (same as --ignition)")
	cmd.Flags().BoolVar(&replace, "replace", false, "replace the profile if it exists (e.g. the default first-time profile)")
	return cmd
}

func newProfilesEditCmd(c *cli) *cobra.Command {
	var pf profileFlags
	var of osFlags
	var butane string
	cmd := &cobra.Command{
		Use:   "edit NAME",
		Short: "Change some fields of a boot profile",
		Long: `Change the fields given; the others keep their values. --initrd replaces the
whole initrd list (repeat it for several); --clear-initrds empties it.

The OS flags work as with ` + "`profiles add`" + `: --os fedora-coreos or flatcar,
--stream/--channel or --arch (without --kernel) switch the profile to the
latest matching image ` + "`pixie images pull`" + ` fetched and write the OS's
kernel arguments again, keeping the profile's other settings (mode, install
disk, consoles, extra arguments) unless --mode, --install-dev, --console or
--args change them. When no such image is pulled, pixie says which
` + "`pixie images pull`" + ` command fetches it. --ssh-key generates the config again.`,
		Example: `  pixie profiles edit fcos --ignition node.ign
  pixie profiles edit fcos --butane node.bu
  pixie profiles edit fcos --stream testing
  pixie profiles edit first-time --os fedora-coreos --ssh-key ~/.ssh/coreos-pxe.pub
  pixie profiles edit flatcar --channel beta --arch aarch64 --autologin
  pixie profiles edit fcos --phone-home "https://inventory.example/up?mac={{.MAC}}" --var role=worker
  pixie profiles edit first-time --kernel fcos/kernel --initrd fcos/initramfs.img`,
		Args: exactArgs(1, "one profile name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			if f.Changed("butane") {
				if f.Changed("ignition") {
					return usageErrorf("give --ignition or --butane, not both")
				}
				pf.ignition = butane
				f.Set("ignition", butane)
			}
			changed := false
			for _, n := range append([]string{"kernel", "initrd", "clear-initrds", "args", "ignition", "os", "description", "phone-home", "ignition-spec", "var", "unset-var"}, osFlagNames...) {
				changed = changed || f.Changed(n)
			}
			if !changed {
				return usageErrorf("nothing to change in profile %s: give --kernel, --initrd, --args, --ignition, --butane, --os, --stream, --channel, --arch, --ssh-key, --phone-home, --var or another flag (see --help)", args[0])
			}
			ignition, err := pf.read(f, c.in)
			if err != nil {
				return err
			}
			ctx, cancel := callCtx(cmd)
			defer cancel()
			client := c.client()
			p, err := client.Profile(ctx, args[0])
			if err != nil {
				return profileErr(err, args[0])
			}
			if p.Vars != nil {
				vars := make(map[string]string, len(p.Vars))
				for k, v := range p.Vars {
					vars[k] = v
				}
				p.Vars = vars
			}
			pf.apply(f, ignition, &p)
			if err := pf.unset(&p); err != nil {
				return err
			}
			req, err := of.request(f, p, "update")
			if err != nil {
				return err
			}
			res, err := c.saveFromOS(ctx, req)
			if err != nil {
				return err
			}
			p = res.Profile
			if c.json {
				return printJSON(c.out, p)
			}
			_, err = fmt.Fprintf(c.out, "profile %s updated\n", p.Name)
			return err
		},
	}
	pf.register(cmd.Flags(), true)
	of.register(cmd.Flags(), true)
	cmd.Flags().StringVar(&butane, "butane", "", "Butane config (YAML, variant fcos or flatcar) read from this local `FILE`, or - for stdin (same as --ignition)")
	return cmd
}

func newProfilesRmCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME",
		Aliases: []string{"remove", "delete"},
		Short:   "Remove a boot profile no machine uses",
		Long: `Remove a profile. pixie refuses while machines use it (give them another
profile with ` + "`pixie machines set MAC --profile OTHER`" + `) or while it is the default.`,
		Example: "  pixie profiles rm old-fcos",
		Args:    exactArgs(1, "one profile name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := callCtx(cmd)
			defer cancel()
			if err := c.client().DeleteProfile(ctx, args[0]); err != nil {
				return profileErr(err, args[0])
			}
			if c.json {
				return printJSON(c.out, map[string]any{"name": args[0], "removed": true})
			}
			_, err := fmt.Fprintf(c.out, "profile %s removed\n", args[0])
			return err
		},
	}
}

// profileExtraFields are the `profiles show` rows for the phone-home URL
// (which a daemon always reports) and the template variables, if any.
func profileExtraFields(p api.Profile) [][2]string {
	var out [][2]string
	if p.PhoneHome != "" {
		out = append(out, [2]string{"phone-home", phoneHomeText(p.PhoneHome)})
	}
	if p.IgnitionSpec != "" {
		out = append(out, [2]string{"ign-spec", ignitionSpecText(p)})
	}
	if len(p.Vars) > 0 {
		out = append(out, [2]string{"vars", varsText(p.Vars)})
	}
	return out
}

// ignitionSpecText says what a profile's Ignition spec does, for
// `profiles show` (shown only when the profile sets one: otherwise the
// OS kind decides, see ignition.SpecFor).
func ignitionSpecText(p api.Profile) string {
	return p.IgnitionSpec + " (configs are served at this Ignition spec, or refused)"
}

// phoneHomeText says what a profile's phone-home setting does, for
// `profiles show`.
func phoneHomeText(ph string) string {
	switch ph {
	case "", "default":
		return "default (pixie's /phone-home: records the booted stage)"
	case "none":
		return "none"
	}
	return ph + " (after pixie's /phone-home)"
}

// varsText lists template variables as NAME=VALUE lines, sorted.
func varsText(vars map[string]string) string {
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = k + "=" + vars[k]
	}
	return strings.Join(lines, "\n")
}
