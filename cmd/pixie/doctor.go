package main

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	firmwareassets "github.com/pixie-boot/pixie/assets/firmware"
	"github.com/pixie-boot/pixie/daemon/firmware"
	"github.com/pixie-boot/pixie/helper/doctor"
	"github.com/pixie-boot/pixie/helper/paths"
)

func newDoctorCmd(c *cli) *cobra.Command {
	layout := paths.Default()
	o := doctor.Options{GOOS: runtime.GOOS}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check everything network boot depends on, and say how to fix what is wrong",
		Long: `Check, and explain with the fix for each problem: whether the pixie service is
installed and running; who holds UDP 67, 4011 and 69 and the HTTP port
(on Linux another DHCP server on this host is found even though
SO_REUSEPORT let both bind; on macOS launchd holding UDP 67 is named as
Internet Sharing's bootpd); on macOS whether bootpd or dnsmasq runs and
whether the Application Firewall lets PXE clients reach pixie;
the iPXE firmware and the Secure Boot shim+GRUB pair for each client
architecture (with the CA each shim trusts), and which profiles machines
boot through GRUB without a pair that trusts their OS; whether the interface is
up with an IPv4 address; whether the kernels and initrds each profile
names exist; and the database's integrity.

A running daemon is asked what it uses; otherwise the flags say what
` + "`pixie serve`" + ` would use. Run it as root to see every process's sockets. The exit
status is 1 when something blocks network boot.`,
		Example: `  sudo pixie doctor
  pixie doctor --json | jq '.checks[] | select(.status != "ok")'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Socket = socketPath(cmd)
			o.EmbeddedFirmware = firmwareassets.Files()
			o.OSFirmwareDirs = firmware.DefaultOSDirs()
			report, _ := doctor.Run(cmd.Context(), o)
			if c.json {
				if err := printJSON(c.out, report); err != nil {
					return err
				}
			} else if _, err := fmt.Fprint(c.out, formatDoctor(report)); err != nil {
				return err
			}
			if n := countStatus(report, doctor.Fail); n > 0 {
				return fmt.Errorf("pixie doctor: %d %s network boot", n, plural(n, "problem blocks", "problems block"))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Interface, "interface", "", "the interface `pixie serve` would be given (when no daemon runs)")
	f.StringVar(&o.Address, "address", "", "the address `pixie serve` would be given (when no daemon runs)")
	f.StringVar(&o.DataDir, "data-dir", layout.DataDir, "the data directory (when no daemon runs)")
	f.IntVar(&o.Ports.HTTP, "http-port", 8080, "the HTTP port (when no daemon runs)")
	f.IntVar(&o.Ports.DHCP, "dhcp-port", 67, "the proxyDHCP port (when no daemon runs)")
	f.IntVar(&o.Ports.PXE, "pxe-port", 4011, "the PXE port (when no daemon runs)")
	f.IntVar(&o.Ports.TFTP, "tftp-port", 69, "the TFTP port (when no daemon runs)")
	return cmd
}

func countStatus(r doctor.Report, s doctor.Status) int {
	n := 0
	for _, c := range r.Checks {
		if c.Status == s {
			n++
		}
	}
	return n
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// formatDoctor prints one line per check, the fix under each that is not
// ok, and a verdict.
func formatDoctor(r doctor.Report) string {
	width := 0
	for _, c := range r.Checks {
		width = max(width, len(c.Name))
	}
	var b strings.Builder
	for _, c := range r.Checks {
		mark := map[doctor.Status]string{doctor.OK: "ok  ", doctor.Warn: "warn", doctor.Fail: "FAIL"}[c.Status]
		fmt.Fprintf(&b, "%s  %-*s  %s\n", mark, width, c.Name, c.Message)
		if c.Fix != "" && c.Status != doctor.OK {
			fmt.Fprintf(&b, "      %-*s  fix: %s\n", width, "", c.Fix)
		}
	}
	fails, warns := countStatus(r, doctor.Fail), countStatus(r, doctor.Warn)
	switch {
	case fails > 0:
		fmt.Fprintf(&b, "\n%d %s network boot", fails, plural(fails, "problem blocks", "problems block"))
	case warns > 0:
		b.WriteString("\nnothing blocks network boot")
	default:
		b.WriteString("\nall good: machines can network-boot from pixie\n")
		return b.String()
	}
	if warns > 0 {
		fmt.Fprintf(&b, "; %d %s", warns, plural(warns, "warning", "warnings"))
	}
	b.WriteString("\n")
	return b.String()
}
