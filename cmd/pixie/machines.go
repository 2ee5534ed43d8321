package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pixie-boot/pixie/daemon/api"
)

func newMachinesCmd(c *cli) *cobra.Command {
	cmd := groupCmd(&cobra.Command{
		Use:     "machines",
		Aliases: []string{"machine"},
		Short:   "List, show, set and remove the machines pixie knows",
		Long: `A machine is a MAC address pixie has a record of: the profile it boots, its
hostname and variables used in its kernel arguments and Ignition config.
A MAC pixie has no record of boots the default profile.

MAC addresses can be written 90:2b:34:14:f6:6a, 90-2B-34-14-F6-6A,
902b.3414.f66a or 902b3414f66a.`,
		Example: `  pixie machines list
  pixie machines set 90:2b:34:14:f6:6a --profile fcos --hostname node1
  pixie machines show 90-2B-34-14-F6-6A
  pixie machines rm 902b.3414.f66a`,
	})
	cmd.AddCommand(newMachinesListCmd(c), newMachinesShowCmd(c), newMachinesSetCmd(c), newMachinesRmCmd(c))
	return cmd
}

func newMachinesListCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the machines pixie has a record of",
		Long:    "List every machine pixie has a record of, by MAC, with its hostname, profile and variable names.",
		Example: "  pixie machines list\n  pixie machines list --json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := callCtx(cmd)
			defer cancel()
			ms, err := c.client().Machines(ctx)
			if err != nil {
				return err
			}
			if c.json {
				return printJSON(c.out, ms)
			}
			_, err = fmt.Fprint(c.out, formatMachines(ms, c.now()))
			return err
		},
	}
}

func newMachinesShowCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "show MAC",
		Short:   "Show one machine's record",
		Long:    "Show everything pixie records for one machine: hostname, profile and variables (with their values).",
		Example: "  pixie machines show 90:2b:34:14:f6:6a",
		Args:    exactArgs(1, "one MAC address, like "+macExample),
		RunE: func(cmd *cobra.Command, args []string) error {
			mac, err := parseMAC(args[0])
			if err != nil {
				return err
			}
			ctx, cancel := callCtx(cmd)
			defer cancel()
			m, err := c.client().Machine(ctx, mac)
			if api.IsCode(err, api.CodeNotFound) {
				return fmt.Errorf("pixie has no record of %s (it boots the default profile): `pixie machines set %s --profile NAME` creates one", mac, mac)
			}
			if err != nil {
				return err
			}
			if c.json {
				return printJSON(c.out, m)
			}
			_, err = fmt.Fprint(c.out, formatMachine(m, c.now()))
			return err
		},
	}
}

// machineChange is what `machines set` was asked to change.
type machineChange struct {
	profile      string
	setProfile   bool
	clearProfile bool
	hostname     string
	setHostname  bool
	vars         []string // k=v
	unset        []string
	// ignition is the machine's own config, read from --ignition;
	// setIgnition/clearIgnition say whether to change it.
	ignitionFile  string
	ignition      string
	setIgnition   bool
	clearIgnition bool
	// loader is --loader; setting it (auto included) resets the ladder.
	loader    string
	setLoader bool
	// ip, gateway and dns are the reservation (--ip "" clears it, with
	// its gateway and DNS servers).
	ip, gateway       string
	dns               []string
	setIP, setGateway bool
	setDNS            bool
}

// validate checks the flags, before anything is asked of the daemon.
func (ch machineChange) validate() error {
	if ch.setProfile && ch.clearProfile {
		return usageErrorf("give --profile or --clear-profile, not both")
	}
	for _, kv := range ch.vars {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return usageErrorf("--var %q: write it as NAME=VALUE", kv)
		}
	}
	if ch.setLoader {
		switch ch.loader {
		case "auto", "snponly", "ipxe", "grub":
		default:
			return usageErrorf("--loader %q: use auto (pixie chooses, stepping snponly -> ipxe -> grub), snponly, ipxe or grub", ch.loader)
		}
	}
	return nil
}

// apply changes m as asked; only the given fields change.
func (ch machineChange) apply(m *api.Machine) error {
	if err := ch.validate(); err != nil {
		return err
	}
	if ch.setProfile {
		m.Profile = ch.profile
	}
	if ch.clearProfile {
		m.Profile = ""
	}
	if ch.setHostname {
		m.Hostname = ch.hostname
	}
	for _, kv := range ch.vars {
		k, v, _ := strings.Cut(kv, "=")
		if m.Vars == nil {
			m.Vars = map[string]string{}
		}
		m.Vars[k] = v
	}
	for _, k := range ch.unset {
		delete(m.Vars, k)
	}
	if ch.setIgnition {
		m.Ignition = ch.ignition
	}
	if ch.clearIgnition {
		m.Ignition = ""
	}
	if ch.setLoader {
		m.Loader, m.LoaderStep, m.LoaderReason, m.LoaderStepAt = ch.loader, "", "", time.Time{}
	}
	if ch.setIP {
		m.IP = ch.ip
		if ch.ip == "" {
			m.Gateway, m.DNS = "", nil
		}
	}
	if ch.setGateway {
		m.Gateway = ch.gateway
	}
	if ch.setDNS {
		m.DNS = nil
		for _, d := range ch.dns {
			for _, f := range strings.Split(d, ",") {
				if f = strings.TrimSpace(f); f != "" {
					m.DNS = append(m.DNS, f)
				}
			}
		}
	}
	return nil
}

func (ch machineChange) empty() bool {
	return !ch.setProfile && !ch.clearProfile && !ch.setHostname && len(ch.vars) == 0 && len(ch.unset) == 0 &&
		!ch.setIgnition && !ch.clearIgnition && !ch.setLoader && !ch.setIP && !ch.setGateway && !ch.setDNS
}

func newMachinesSetCmd(c *cli) *cobra.Command {
	var ch machineChange
	cmd := &cobra.Command{
		Use:   "set MAC",
		Short: "Create a machine or change some of its fields",
		Long: `Create the machine with this MAC, or change the fields given on an existing
one; fields not given keep their values. Variables are available to the
profile's kernel arguments and Ignition template as {{.Vars.NAME}}.

--clear-profile makes the machine boot the default profile again.

--loader picks the UEFI first stage: auto (the default) offers snponly.efi,
then ipxe.efi if the firmware did not run it, then shim -> GRUB if that was
refused too (Secure Boot); --loader auto also starts that ladder again.
snponly, ipxe or grub pin one. BIOS machines always get undionly.kpxe.

--ip reserves an address for the machine, ADDR or ADDR/PREFIX, with
--gateway and --dns to go with it: in full DHCP mode (pixie serve --dhcp)
the machine is always handed that address; in proxy mode pixie writes it
into the machine's boot (kernel ip= argument and the OS's network file in
its Ignition config), so it keeps the address after it boots. This is the
guide's "reserve an IP for the MAC on your DHCP server" step. --ip ""
removes the reservation.`,
		Example: `  pixie machines set 90:2b:34:14:f6:6a --profile fcos --hostname node1
  pixie machines set 90:2b:34:14:f6:6a --var role=worker --var "ssh_key=$(cat ~/.ssh/id_ed25519.pub)"
  pixie machines set 90:2b:34:14:f6:6a --unset-var role --clear-profile
  pixie machines set 90:2b:34:14:f6:6a --loader grub
  pixie machines set 90:2b:34:14:f6:6a --ip 192.168.1.50/24 --gateway 192.168.1.1 --dns 192.168.1.1`,
		Args: exactArgs(1, "one MAC address, like "+macExample),
		RunE: func(cmd *cobra.Command, args []string) error {
			mac, err := parseMAC(args[0])
			if err != nil {
				return err
			}
			f := cmd.Flags()
			ch.setProfile, ch.setHostname, ch.setLoader = f.Changed("profile"), f.Changed("hostname"), f.Changed("loader")
			ch.setIP, ch.setGateway, ch.setDNS = f.Changed("ip"), f.Changed("gateway"), f.Changed("dns")
			if err := ch.validate(); err != nil {
				return err
			}
			if ch.setIgnition = f.Changed("ignition"); ch.setIgnition {
				if ch.clearIgnition {
					return usageErrorf("give --ignition or --clear-ignition, not both")
				}
				if ch.ignition, err = readIgnition("--ignition", ch.ignitionFile, c.in); err != nil {
					return err
				}
			}
			ctx, cancel := callCtx(cmd)
			defer cancel()
			client := c.client()
			m, err := client.Machine(ctx, mac)
			created := api.IsCode(err, api.CodeNotFound)
			switch {
			case created:
				m = api.Machine{MAC: mac}
			case err != nil:
				return err
			case ch.empty():
				return usageErrorf("nothing to change for %s: give --profile, --hostname, --var, --unset-var, --loader, --ip or --clear-profile", mac)
			}
			for _, k := range ch.unset {
				if _, ok := m.Vars[k]; !ok {
					fmt.Fprintf(c.errOut, "note: %s has no variable %q\n", mac, k)
				}
			}
			if err := ch.apply(&m); err != nil {
				return err
			}
			m, err = client.PutMachine(ctx, m)
			if err != nil {
				return err
			}
			if c.json {
				return printJSON(c.out, m)
			}
			verb := "updated"
			if created {
				verb = "created"
			}
			_, err = fmt.Fprintf(c.out, "machine %s %s: %s\n", m.MAC, verb, describeMachine(m))
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&ch.profile, "profile", "", "the `NAME` of the profile the machine boots (see pixie profiles list)")
	f.BoolVar(&ch.clearProfile, "clear-profile", false, "boot the default profile again")
	f.StringVar(&ch.hostname, "hostname", "", "set the hostname to `HOST` (\"\" clears it)")
	f.StringArrayVar(&ch.vars, "var", nil, "set a variable, `NAME=VALUE` (repeatable)")
	f.StringArrayVar(&ch.unset, "unset-var", nil, "remove the variable `NAME` (repeatable)")
	f.StringVar(&ch.ignitionFile, "ignition", "", "the machine's own config (Ignition 3.x JSON or Butane) from this local `FILE` or - for stdin, merged over the profile's")
	f.BoolVar(&ch.clearIgnition, "clear-ignition", false, "remove the machine's own config")
	f.StringVar(&ch.ip, "ip", "", "reserve this address for the machine, `ADDR[/PREFIX]` (\"\" removes the reservation)")
	f.StringVar(&ch.gateway, "gateway", "", "the reserved address's default gateway, `ADDR` (\"\" clears it)")
	f.StringArrayVar(&ch.dns, "dns", nil, "the reserved address's DNS server, `ADDR` (repeatable, or comma-separated)")
	f.StringVar(&ch.loader, "loader", "", "UEFI first stage: `auto` (pixie steps snponly -> ipxe -> grub when the firmware does not run one; also resets a step), or pin snponly, ipxe or grub")
	return cmd
}

// describeMachine summarizes a machine in one line.
func describeMachine(m api.Machine) string {
	profile := "the default profile"
	if m.Profile != "" {
		profile = "profile " + m.Profile
	}
	parts := []string{profile}
	if m.Hostname != "" {
		parts = append(parts, "hostname "+m.Hostname)
	}
	if len(m.Vars) > 0 {
		parts = append(parts, "vars "+strings.Join(slices.Sorted(maps.Keys(m.Vars)), ", "))
	}
	if m.IP != "" {
		r := "address " + m.IP
		if m.Gateway != "" {
			r += " via " + m.Gateway
		}
		if len(m.DNS) > 0 {
			r += " dns " + strings.Join(m.DNS, ",")
		}
		parts = append(parts, r)
	}
	if m.Loader != "" && m.Loader != "auto" {
		parts = append(parts, "loader "+m.Loader)
	} else if m.LoaderStep != "" {
		parts = append(parts, "loader auto (stepped to "+m.LoaderStep+")")
	}
	return strings.Join(parts, ", ")
}

func newMachinesRmCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "rm MAC",
		Aliases: []string{"remove", "delete"},
		Short:   "Forget a machine",
		Long: `Forget a machine's record. Its boot history stays, and the next time it
network-boots it gets the default profile, like any machine pixie does not know.`,
		Example: "  pixie machines rm 90:2b:34:14:f6:6a",
		Args:    exactArgs(1, "one MAC address, like "+macExample),
		RunE: func(cmd *cobra.Command, args []string) error {
			mac, err := parseMAC(args[0])
			if err != nil {
				return err
			}
			ctx, cancel := callCtx(cmd)
			defer cancel()
			if err := c.client().DeleteMachine(ctx, mac); err != nil {
				if api.IsCode(err, api.CodeNotFound) {
					return fmt.Errorf("pixie has no record of %s: nothing to remove", mac)
				}
				return err
			}
			if c.json {
				return printJSON(c.out, map[string]any{"mac": mac, "removed": true})
			}
			_, err = fmt.Fprintf(c.out, "machine %s removed: it will boot the default profile next time (its boot history stays)\n", mac)
			return err
		},
	}
}
