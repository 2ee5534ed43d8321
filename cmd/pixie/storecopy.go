package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/pixie-boot/pixie/daemon/store"
	"github.com/pixie-boot/pixie/helper/service"
)

func newStoreCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Work on pixie's database itself (copy it between SQLite and PostgreSQL)",
		Args:  noArgs,
	}
	cmd.AddCommand(newStoreCopyCmd(c))
	return cmd
}

func newStoreCopyCmd(c *cli) *cobra.Command {
	var (
		replace      bool
		passwordFile string
	)
	cmd := &cobra.Command{
		Use:   "copy FROM TO",
		Short: "Copy a whole pixie database: an SQLite file to PostgreSQL, or back",
		Long: `Copy everything a pixie database holds — profiles, machines, settings, boot
events, boot tokens and full-DHCP leases, with their IDs — from FROM to TO.
Each is an SQLite file (pixie.db in the data directory) or a postgres://
URL. TO is created if it is a new file; a PostgreSQL database must exist
(createdb) and is given pixie's schema.

TO must be empty (new, or holding only the default profile a new database
starts with) unless --replace is given. The copy is one transaction on TO:
if anything fails, TO is left as it was. FROM is read in one transaction,
so copying from a database pixie is serving is consistent; stop pixie
first all the same if its newest events should be in the copy.

This works on the database directly (like pg_dump), not through the
daemon: run it where both databases can be reached. PostgreSQL's password
comes from --store-password-file, PIXIE_STORE_PASSWORD, PGPASSWORD or
~/.pgpass, never from the URL.`,
		Example: `  sudo pixie store copy /var/lib/pixie/pixie.db postgres://pixie@db.lan/pixie --store-password-file /etc/pixie/db-password
  pixie store copy postgres://pixie@db.lan/pixie /tmp/pixie-backup.db`,
		Args: exactArgs(2, "FROM and TO: an SQLite file or a postgres:// URL each"),
		RunE: func(cmd *cobra.Command, args []string) error {
			from, to := args[0], args[1]
			pw := map[string]string{}
			for _, loc := range []string{from, to} {
				if !store.IsPostgres(loc) {
					continue
				}
				p, err := storePassword(service.Settings{Store: loc, StorePasswordFile: passwordFile}, os.Getenv)
				if err != nil {
					return err
				}
				pw[loc] = p
			}
			if passwordFile != "" && len(pw) == 0 {
				return usageErrorf("--store-password-file is for a PostgreSQL database: neither FROM nor TO is a postgres:// URL")
			}
			if !store.IsPostgres(from) {
				if _, err := os.Stat(from); err != nil {
					return usageErrorf("no database at %s: give the SQLite file (pixie.db in pixie's data directory) or a postgres:// URL", from)
				}
			}
			if !store.IsPostgres(from) && !store.IsPostgres(to) {
				a, _ := filepath.Abs(from)
				b, _ := filepath.Abs(to)
				if a == b {
					return usageErrorf("FROM and TO are the same file (%s)", a)
				}
			}
			ctx := cmd.Context()
			src, err := store.OpenWith(ctx, from, store.Options{Password: pw[from]})
			if err != nil {
				return fmt.Errorf("open the source: %w", err)
			}
			defer src.Close()
			dst, err := store.OpenWith(ctx, to, store.Options{Password: pw[to]})
			if err != nil {
				return fmt.Errorf("open the target: %w", err)
			}
			defer dst.Close()
			stats, err := store.Copy(ctx, dst, src, replace)
			if errors.Is(err, store.ErrExists) {
				return usageError(err)
			}
			if err != nil {
				return fmt.Errorf("nothing was copied (%s is as it was): %w", dst.Location(), err)
			}
			if c.json {
				return printJSON(c.out, stats)
			}
			_, err = fmt.Fprintf(c.out, "copied %s\n  from %s\n  to   %s\n", stats, src.Location(), dst.Location())
			return err
		},
	}
	cmd.Flags().BoolVar(&replace, "replace", false, "replace what TO holds (by default a TO that is not empty is refused)")
	cmd.Flags().StringVar(&passwordFile, "store-password-file", "", "read PostgreSQL's password from `FILE` (readable by its owner only)")
	return cmd
}
