package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/store"
	"github.com/pixie-boot/pixie/helper/doctor"
)

// formatLoaderSets names the profiles whose machines on GRUB get a shim
// that cannot boot their kernel under Secure Boot (a Fedora CoreOS image
// without Fedora's shim and GRUB); nothing when all is well or unknown.
func formatLoaderSets(ctx context.Context, c *cli, st api.Status) string {
	client := c.client()
	profiles, err := client.Profiles(ctx)
	if err != nil {
		return ""
	}
	machines, err := client.Machines(ctx)
	if err != nil {
		return ""
	}
	var out string
	for _, ch := range doctor.LoaderSetChecks(st, profiles, machines, store.DefaultProfileName) {
		if ch.Status == doctor.OK {
			continue
		}
		out += fmt.Sprintf("loader set:   %s: %s; fix: %s\n", ch.Name[len("loader set for "):], ch.Message, ch.Fix)
	}
	return out
}

func newStatusCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show what the pixie daemon serves and whether it is paused",
		Long: `Show the daemon's state: serving or paused, the interface and address it
serves on, its ports, the iPXE firmware it hands out for each client
architecture (and where each file comes from, or which are missing), its
data directory and its counters (packets ignored and why, transfers refused).`,
		Example: `  pixie status
  pixie status --json | jq .firmware`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := callCtx(cmd)
			defer cancel()
			st, err := c.client().Status(ctx)
			svc := serviceStatus()
			if err != nil {
				if svc.Installed && !c.json {
					fmt.Fprint(c.out, formatServiceLine(svc))
				}
				return err
			}
			if c.json {
				return printJSON(c.out, statusWithService{st, svc})
			}
			_, err = fmt.Fprint(c.out, formatStatus(st, c.now())+formatLoaderSets(ctx, c, st)+formatServiceLine(svc))
			return err
		},
	}
}

func newPauseCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "pause",
		Short: "Stop offering network boot until `pixie resume`",
		Long: `Stop answering PXE clients: machines that boot while pixie is paused fall
through to their next boot device. The daemon keeps running and keeps its
ports, so ` + "`pixie resume`" + ` takes effect at once. The pause survives a restart.`,
		Example: `  pixie pause
  pixie pause --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.setPaused(cmd, true)
		},
	}
}

func newResumeCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:     "resume",
		Short:   "Offer network boot again after `pixie pause`",
		Long:    `Answer PXE clients again after ` + "`pixie pause`" + `.`,
		Example: `  pixie resume`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.setPaused(cmd, false)
		},
	}
}

// setPaused pauses or resumes and says what changed.
func (c *cli) setPaused(cmd *cobra.Command, pause bool) error {
	ctx, cancel := callCtx(cmd)
	defer cancel()
	client := c.client()
	before, err := client.Status(ctx)
	if err != nil {
		return err
	}
	after := before
	if before.Paused != pause {
		if pause {
			after, err = client.Pause(ctx)
		} else {
			after, err = client.Resume(ctx)
		}
		if err != nil {
			return err
		}
	}
	if c.json {
		return printJSON(c.out, after)
	}
	_, err = fmt.Fprintln(c.out, pauseMessage(before.Paused, after.Paused))
	return err
}

// pauseMessage says what a pause or resume changed.
func pauseMessage(was, is bool) string {
	switch {
	case !was && is:
		return "pixie paused: machines will not be offered network boot until `pixie resume`"
	case was && is:
		return "pixie was already paused: machines are not offered network boot until `pixie resume`"
	case was && !is:
		return "pixie resumed: machines are offered network boot again"
	}
	return "pixie was not paused: machines are offered network boot"
}
