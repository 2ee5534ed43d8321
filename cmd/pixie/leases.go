package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newLeasesCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "leases",
		Short: "List the addresses pixie handed out in full DHCP mode",
		Long: `List full DHCP mode's leases (pixie serve --dhcp): each address pixie has
handed out or set aside, the MAC holding it, its state (offered, bound,
released, or held: set aside after a machine declined it) and when it
expires. A machine's reserved address (pixie machines set MAC --ip) is
marked. In proxy mode the LAN's DHCP server hands out the addresses, and
this lists what pixie gave while it was in full mode.`,
		Example: `  pixie leases
  pixie leases --json | jq '.leases[] | select(.state == "bound")'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := callCtx(cmd)
			defer cancel()
			ls, err := c.client().Leases(ctx)
			if err != nil {
				return err
			}
			if c.json {
				return printJSON(c.out, ls)
			}
			_, err = fmt.Fprint(c.out, formatLeases(ls, c.now()))
			return err
		},
	}
}
