package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/pixie-boot/pixie/daemon/api"
)

func newBootsCmd(c *cli) *cobra.Command {
	var limit int
	var follow bool
	cmd := &cobra.Command{
		Use:   "boots",
		Short: "Show the machines that tried to network-boot recently",
		Long: `Show the MACs pixie saw network-booting, newest first: the machine's
hostname and profile, the last stage it reached (dhcp, pxe, tftp, script,
kernel, initrd, ignition, or error), details, its IP and when.

--follow then prints new boot events as they happen, until Ctrl-C; if the
daemon restarts it reconnects and carries on where it left off. With --json
and --follow it prints one JSON event per line instead.`,
		Example: `  pixie boots
  pixie boots --limit 5
  pixie boots --follow`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 || limit > 10000 {
				return usageErrorf("--limit %d: give a number from 1 to 10000", limit)
			}
			client := c.client()
			ctx, cancel := callCtx(cmd)
			bs, err := client.Boots(ctx, limit)
			cancel()
			if err != nil {
				return err
			}
			if !follow {
				if c.json {
					return printJSON(c.out, bs)
				}
				_, err := fmt.Fprint(c.out, formatBoots(bs, c.now()))
				return err
			}
			after := int64(-1) // nothing seen yet: new events only
			for _, b := range bs {
				after = max(after, b.Last.ID)
			}
			if !c.json {
				if len(bs) > 0 {
					fmt.Fprint(c.out, formatBoots(bs, c.now()))
					fmt.Fprintln(c.out)
				}
				fmt.Fprintln(c.errOut, "following new boot events (Ctrl-C to stop)...")
			}
			return c.follow(cmd.Context(), client, after, func(e api.Event) error {
				if c.json {
					return json.NewEncoder(c.out).Encode(e) // one event per line
				}
				_, err := fmt.Fprintln(c.out, formatEventLine(e))
				return err
			})
		},
	}
	cmd.Flags().IntVarP(&limit, "limit", "n", 20, "show the `N` machines seen most recently")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new boot events until Ctrl-C")
	return cmd
}

// reconnect delays after the event stream breaks: quick first, then
// backing off so a stopped daemon is not hammered.
const (
	reconnectFirst = 500 * time.Millisecond
	reconnectMax   = 10 * time.Second
)

// follow streams events after ID after to fn until ctx ends (Ctrl-C), which
// is a success. If the stream breaks it says so and reconnects, resuming
// after the last event seen, so a daemon restart loses nothing.
func (c *cli) follow(ctx context.Context, client *api.Client, after int64, fn func(api.Event) error) error {
	connected := false // at least once
	lost := false      // told the user the connection is lost
	delay := reconnectFirst
	for {
		stream, err := client.Events(ctx, after)
		if err == nil {
			if lost {
				fmt.Fprintln(c.errOut, "reconnected to the pixie daemon")
			}
			connected, lost, delay = true, false, reconnectFirst
			for e := range stream.Events() {
				if err := fn(e); err != nil {
					stream.Close()
					return err
				}
				if e.ID > 0 {
					after = e.ID
				}
			}
			err = stream.Err()
		}
		if ctx.Err() != nil {
			return nil // Ctrl-C
		}
		var apiErr *api.Error
		if !connected || errors.As(err, &apiErr) {
			return err // not a broken connection: retrying will not help
		}
		if !lost {
			fmt.Fprintf(c.errOut, "lost the connection to the pixie daemon (%v); reconnecting...\n", err)
			lost = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(delay*2, reconnectMax)
	}
}

func newTimelineCmd(c *cli) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "timeline MAC",
		Short: "Show every boot step pixie recorded for one machine",
		Long: `Show one machine's boot events, oldest first: time, stage, IP, architecture
and details. Use it to see how far a machine got and where it stopped.`,
		Example: `  pixie timeline 90:2b:34:14:f6:6a
  pixie timeline 902b.3414.f66a --limit 20`,
		Args: exactArgs(1, "one MAC address, like "+macExample),
		RunE: func(cmd *cobra.Command, args []string) error {
			mac, err := parseMAC(args[0])
			if err != nil {
				return err
			}
			if limit < 1 || limit > 10000 {
				return usageErrorf("--limit %d: give a number from 1 to 10000", limit)
			}
			ctx, cancel := callCtx(cmd)
			defer cancel()
			es, err := c.client().Timeline(ctx, mac, limit)
			if err != nil {
				return err
			}
			if c.json {
				return printJSON(c.out, es)
			}
			_, err = fmt.Fprint(c.out, formatTimeline(mac, es))
			return err
		},
	}
	cmd.Flags().IntVarP(&limit, "limit", "n", 200, "show at most the newest `N` events")
	return cmd
}
