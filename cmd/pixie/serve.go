package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	firmwareassets "github.com/pixie-boot/pixie/assets/firmware"
	"github.com/pixie-boot/pixie/daemon"
	"github.com/pixie-boot/pixie/daemon/logbuf"
	"github.com/pixie-boot/pixie/daemon/store"
	"github.com/pixie-boot/pixie/helper/paths"
	"github.com/pixie-boot/pixie/helper/service"
)

// version is set at link time (-ldflags "-X main.version=...").
var version = "dev"

// memoryLimit is the daemon's soft limit on the Go runtime's memory (heap,
// stacks, runtime structures; not SQLite's, not the binary's pages). An
// idle pixie uses about 3 MiB of it and a 50,000-MAC DHCP flood under
// 6 MiB of live heap; above the limit the collector works harder, it does
// not fail (and it spends at most half the CPU).
const memoryLimit = 14 << 20

func newServeCmd() *cobra.Command {
	var (
		s                service.Settings
		eventsMaxAge     string
		logFile, pidFile string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the pixie daemon in the foreground",
		Long: `Run pixie's boot servers in the foreground: proxyDHCP (UDP 67 and 4011),
TFTP (UDP 69) for the iPXE firmware, HTTP for iPXE scripts, kernels, initrds
and Ignition configs, and the control socket the CLI and the menu-bar app use.

With no flags pixie picks the interface of the default route and its IPv4
address, creates its data directory and database, and serves the default
"first-time" profile at once. It answers only PXE clients, as a proxy beside
the network's own DHCP server, which keeps handing out the addresses. It
checks that one answers, and says so when none does.

On a link with no DHCP server (a cable from a laptop to one machine, an
isolated lab switch) --dhcp makes pixie hand out the addresses itself,
on this interface only: from the upper half of its subnet (at most 1023
addresses) or --dhcp-range, with no router or DNS options unless
--dhcp-router and --dhcp-dns give them. It refuses to start when another
DHCP server answers on the link (--force overrides), and stops handing
out addresses if one appears later. The DHCP flags are stored: the next
start, and the service, use them; --dhcp=false goes back to proxy mode,
and "none" clears --dhcp-range, --dhcp-router or --dhcp-dns.

It needs root (or CAP_NET_BIND_SERVICE and CAP_NET_RAW) for the privileged
ports. Stop it with Ctrl-C.`,
		Example: `  sudo pixie serve
  sudo pixie serve --interface en5
  sudo pixie serve --interface eth0 --address 10.2.0.200 --http-port 8081
  sudo pixie serve --interface en5 --dhcp
  sudo pixie serve --interface eth1 --dhcp --dhcp-range 10.9.0.100-10.9.0.150 --dhcp-router 10.9.0.1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			level := slog.LevelInfo
			if err := level.UnmarshalText([]byte(s.LogLevel)); err != nil {
				return usageError(fmt.Errorf("--log-level %q: use debug, info, warn or error", s.LogLevel))
			}
			age, err := retentionFlags(s.EventsMax, eventsMaxAge)
			if err != nil {
				return err
			}
			cfg := daemon.Config{
				Interface: s.Interface, Address: s.Address, DataDir: s.DataDir,
				HTTPPort: s.HTTPPort, DHCPPort: s.DHCPPort, PXEPort: s.PXEPort, TFTPPort: s.TFTPPort,
				EFIFile: s.EFIFile, SocketGroup: s.SocketGroup,
				NoIgnitionTokens: s.NoIgnitionTokens, IgnitionTokenTTL: s.IgnitionTokenTTL,
				EventsMax: s.EventsMax, EventsMaxAge: age,
				Loader:        s.Loader,
				DHCPLinkLayer: s.DHCPLinkLayer,
			}
			if err := dhcpFlags(cmd.Flags(), &s); err != nil {
				return err
			}
			if err := checkInstance(s.Instance); err != nil {
				return err
			}
			cfg.Store, cfg.Instance = s.Store, s.Instance
			if cfg.StorePassword, err = storePassword(s, os.Getenv); err != nil {
				return err
			}
			cfg.DHCP, cfg.DHCPRange, cfg.DHCPLeaseTime = s.DHCP, s.DHCPRange, s.DHCPLeaseTime
			cfg.DHCPRouter, cfg.DHCPDNS, cfg.DHCPForce = s.DHCPRouter, s.DHCPDNS, s.DHCPForce
			switch s.Loader {
			case "", "auto", "snponly", "ipxe", "grub":
			default:
				return usageErrorf("--loader %q: use auto (snponly, stepping to ipxe, then grub, per machine), snponly, ipxe or grub", s.Loader)
			}
			// The daemon's live heap is a few MB and a flood of DHCP
			// requests allocates about 1-2 KB per answer. At the default
			// GOGC=100 the collector ran ~15 times a second at 32,000
			// answers/s and its work showed as lost answers; GOGC=400 alone
			// let the heap grow to 30 MB under a 50,000-MAC load. So:
			// collections as rare as GOGC=400 makes them while the heap is
			// small, and a soft limit on the Go runtime's memory that makes
			// them more frequent before it grows past it. GOGC or GOMEMLIMIT
			// in the environment still wins.
			if os.Getenv("GOGC") == "" {
				debug.SetGCPercent(400)
			}
			if os.Getenv("GOMEMLIMIT") == "" {
				debug.SetMemoryLimit(memoryLimit)
			}
			// Info lines (one per boot step) are written out every 50 ms
			// rather than one by one; warnings and errors at once.
			out, err := openServeLog(logFile, pidFile, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			defer out.close()
			logOut := logbuf.New(out.out, 50*time.Millisecond, 64<<10)
			defer logOut.Close()
			log := slog.New(logbuf.Handler(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level}), logOut))
			cfg.Socket = socketPath(cmd)
			cfg.Version = version
			cfg.Banner = out.banner
			cfg.EmbeddedFirmware = firmwareassets.Files()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out.follow(ctx, log)
			err = daemon.Run(ctx, cfg, log)
			if err != nil && out.file != nil {
				// Whoever reads the log file would not see stderr.
				log.Error("pixie exits with an error", "err", err)
			}
			return err
		},
	}
	addServeFlags(cmd.Flags(), &s, &eventsMaxAge)
	// Only on serve: the service installer sets them itself where the OS
	// needs them (launchd, for newsyslog).
	cmd.Flags().StringVar(&logFile, "log-file", "", "write the log to `PATH` (appending) instead of stderr, and open it again on SIGHUP, after a log rotator renamed it")
	cmd.Flags().StringVar(&pidFile, "pid-file", "", "write the daemon's pid to `PATH` (what a log rotator signals), removed on exit")
	// Only serve's: `install service --force` replaces a service, and
	// takes --dhcp-force for this one.
	cmd.Flags().BoolVar(&s.DHCPForce, "force", false, "start full DHCP mode even when another DHCP server answers on the link (machines may then get addresses from either)")
	return cmd
}

// retentionFlags checks --events-max and --events-max-age and returns the
// age ("" means keep the stored one: 0).
func retentionFlags(max int64, age string) (time.Duration, error) {
	if max < 0 {
		return 0, usageErrorf("--events-max %d: give how many boot events to keep, e.g. 100000", max)
	}
	if age == "" {
		return 0, nil
	}
	d, err := store.ParseAge(age)
	if err != nil || d == 0 {
		return 0, usageErrorf("--events-max-age %q: give an age like 30d or 720h", age)
	}
	return d, nil
}

// addServeFlags defines `pixie serve`'s flags on f, into s (and the event
// age, parsed later by retentionFlags, into eventsMaxAge): `pixie install
// service` takes the same ones and writes them onto the service's command
// line.
func addServeFlags(f *pflag.FlagSet, s *service.Settings, eventsMaxAge *string) {
	layout := paths.Default()
	f.StringVar(&s.Interface, "interface", "", "network interface to serve on (default: the interface of the default route)")
	f.StringVar(&s.Address, "address", "", "IPv4 address to announce (default: the interface's address)")
	f.StringVar(&s.DataDir, "data-dir", layout.DataDir, "where the database, images (assets/) and firmware overrides (firmware/) live")
	f.IntVar(&s.HTTPPort, "http-port", 8080, "HTTP port for iPXE scripts, images and Ignition")
	f.IntVar(&s.DHCPPort, "dhcp-port", 67, "proxyDHCP port (change only for testing)")
	f.IntVar(&s.PXEPort, "pxe-port", 4011, "PXE boot-server port (change only for testing)")
	f.IntVar(&s.TFTPPort, "tftp-port", 69, "TFTP port (change only for testing)")
	f.StringVar(&s.EFIFile, "efi-file", "", "first-stage file for every x86-64 UEFI machine without a loader of its own: ipxe.efi, snponly.efi or shimx64.efi (signed shim -> GRUB, for Secure Boot) (default: the loader ladder, snponly.efi first)")
	f.StringVar(&s.Loader, "loader", "", "default UEFI first stage of machines without one of their own: auto (snponly.efi, stepping to ipxe.efi, then shim/GRUB, per machine), snponly, ipxe or grub; stored (default: the stored one, else auto)")
	f.StringVar(&s.SocketGroup, "socket-group", layout.SocketGroup, "group allowed to use the control socket besides root")
	f.StringVar(&s.LogLevel, "log-level", "info", "log detail: debug, info, warn or error")
	f.BoolVar(&s.NoIgnitionTokens, "no-ignition-tokens", false, "serve /ignition without per-boot tokens (debugging only: anyone on the LAN can read any machine's config)")
	f.DurationVar(&s.IgnitionTokenTTL, "ignition-token-ttl", time.Hour, "how long the per-boot Ignition token in a machine's kernel arguments stays valid")
	f.Int64Var(&s.EventsMax, "events-max", 0, "keep at most `N` boot events, newest kept (default: the stored setting, else 100000)")
	f.BoolVar(&s.DHCPLinkLayer, "dhcp-link-layer", false, "answer proxyDHCP on port 67 with raw Ethernet frames (AF_PACKET/BPF) even when the port is free (used anyway when another program holds it)")
	f.Bool("dhcp", false, "hand out addresses on the interface (full DHCP mode, for a link with no DHCP server); --dhcp=false: proxy mode again; stored (default: the stored mode, else proxy)")
	f.StringVar(&s.DHCPRange, "dhcp-range", "", "full DHCP mode's pool, `FROM-TO` (default: the upper half of the interface's subnet, at most 1023 addresses); stored, none clears")
	f.DurationVar(&s.DHCPLeaseTime, "dhcp-lease-time", 0, "full DHCP mode's lease time (default: the stored one, else 1h)")
	f.StringVar(&s.DHCPRouter, "dhcp-router", "", "full DHCP mode's default gateway option, `ADDR` (default: none, right for a point-to-point cable); stored, none clears")
	f.StringVar(&s.DHCPDNS, "dhcp-dns", "", "full DHCP mode's DNS servers, `ADDR[,ADDR]` (default: none); stored, none clears")
	f.StringVar(eventsMaxAge, "events-max-age", "", "drop boot events older than `AGE`, e.g. 30d or 72h (default: the stored setting, else 30d)")
	f.StringVar(&s.Store, "store", "", "the database: a PostgreSQL `URL` shared by several instances (postgres://USER@HOST/DB, no password in it), or an SQLite file (default: pixie.db in the data directory)")
	f.StringVar(&s.StorePasswordFile, "store-password-file", "", "read PostgreSQL's password from `FILE` (readable by root only) rather than from PIXIE_STORE_PASSWORD, PGPASSWORD or ~/.pgpass")
	f.StringVar(&s.Instance, "instance", "", "this instance's `NAME`, recorded on every boot event it writes (default: the host name)")
}

// dhcpFlags reads --dhcp into s.DHCP: "full", "proxy" (--dhcp=false), or
// "" when not given (the stored mode).
func dhcpFlags(f *pflag.FlagSet, s *service.Settings) error {
	if !f.Changed("dhcp") {
		s.DHCP = ""
		return nil
	}
	on, err := f.GetBool("dhcp")
	if err != nil {
		return usageErrorf("--dhcp: %v", err)
	}
	s.DHCP = "proxy"
	if on {
		s.DHCP = "full"
	}
	if s.DHCPForce && !on {
		return usageErrorf("--force only matters with --dhcp")
	}
	return nil
}
