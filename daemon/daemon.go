// Package daemon wires pixie's servers together: it picks the interface,
// opens the data directory and database, and runs proxyDHCP, TFTP, HTTP and
// the control socket until its context ends.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/control"
	"github.com/pixie-boot/pixie/daemon/dhcp"
	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/firmware"
	"github.com/pixie-boot/pixie/daemon/httpboot"
	"github.com/pixie-boot/pixie/daemon/neighbors"
	"github.com/pixie-boot/pixie/daemon/netif"
	"github.com/pixie-boot/pixie/daemon/pulls"
	"github.com/pixie-boot/pixie/daemon/store"
	"github.com/pixie-boot/pixie/daemon/textpages"
	"github.com/pixie-boot/pixie/daemon/udpstat"
)

// Config is everything `pixie serve` can be told. Zero values mean "work it
// out": the interface and address are detected, ports take their standard
// numbers.
type Config struct {
	Interface string
	Address   string
	DataDir   string

	DHCPPort int // 67
	// DHCPLinkLayer answers the DHCP port with raw Ethernet frames even
	// when it is free (a held port goes over the link layer anyway).
	DHCPLinkLayer bool
	PXEPort       int // 4011
	TFTPPort      int // 69
	HTTPPort      int // 8080

	Socket      string
	SocketGroup string

	// EFIFile, when set, is the first-stage file every x86-64 UEFI machine
	// without a loader pin of its own gets (ipxe.efi or snponly.efi),
	// instead of the ladder.
	EFIFile string
	// Loader is the default loader of machines on auto: auto (the ladder
	// snponly -> ipxe -> grub), snponly, ipxe or grub. Empty: the stored
	// setting, else auto. A value given is stored.
	Loader string
	// DHCP is the DHCP mode: "full" (`--dhcp`: pixie hands out addresses
	// on the interface), "proxy", or "" for the stored setting (else
	// proxy). DHCPRange ("FROM-TO"), DHCPLeaseTime, DHCPRouter and
	// DHCPDNS (comma-separated) configure full mode; each given is
	// stored, "none" clears one. DHCPForce starts full mode even beside
	// another DHCP server (not stored).
	DHCP          string
	DHCPRange     string
	DHCPLeaseTime time.Duration
	DHCPRouter    string
	DHCPDNS       string
	DHCPForce     bool
	// EmbeddedFirmware is the firmware built into the binary, if any.
	EmbeddedFirmware fs.FS
	// OSFirmwareDirs are where the OS's iPXE package puts its files.
	OSFirmwareDirs []string

	// NoIgnitionTokens turns per-boot Ignition tokens off: /ignition then
	// serves any machine's config to whoever names its MAC (debugging only).
	NoIgnitionTokens bool
	// IgnitionTokenTTL is how long a per-boot token is valid (default 1h).
	IgnitionTokenTTL time.Duration

	// Store is where the database is: "" for pixie.db in DataDir, else a
	// postgres:// URL (no password in it) or an SQLite file path.
	// StorePassword is PostgreSQL's password, read by the caller from a
	// file or the environment (never a flag).
	Store         string
	StorePassword string
	// Instance is this instance's name, recorded on every boot event it
	// writes (default: the host name).
	Instance string

	// EventsMax and EventsMaxAge, when not zero, replace the stored limits
	// of the boot event table (newest kept).
	EventsMax    int64
	EventsMaxAge time.Duration

	// WatchInterval is how often the interface is checked for a new
	// address or a link going down (default 2s).
	WatchInterval time.Duration

	// Supervised: a service manager (launchd, systemd) runs the daemon and
	// restarts it when it exits, so a boot port held by another program is
	// waited out (and said in status) rather than fatal. Run sets it when
	// the environment shows a service manager (see UnderServiceManager).
	Supervised bool

	Version string
	// Banner receives the few lines saying what is served.
	Banner io.Writer
}

func (c *Config) fill() {
	if c.DHCPPort == 0 {
		c.DHCPPort = 67
	}
	if c.PXEPort == 0 {
		c.PXEPort = 4011
	}
	if c.TFTPPort == 0 {
		c.TFTPPort = 69
	}
	if c.HTTPPort == 0 {
		c.HTTPPort = 8080
	}
	if c.OSFirmwareDirs == nil {
		c.OSFirmwareDirs = firmware.DefaultOSDirs()
	}
	if c.Banner == nil {
		c.Banner = io.Discard
	}
	if c.WatchInterval <= 0 {
		c.WatchInterval = 2 * time.Second
	}
	if !c.Supervised {
		c.Supervised = UnderServiceManager(os.Getenv)
	}
	if c.Instance == "" {
		c.Instance = DefaultInstance()
	}
}

// storeLocation is the database Run opens.
func (c *Config) storeLocation() string {
	if c.Store != "" {
		return c.Store
	}
	return filepath.Join(c.DataDir, "pixie.db")
}

// DefaultInstance is an instance's name when none is given: the host's
// name, else "pixie".
func DefaultInstance() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "pixie"
}

// Run serves until ctx is cancelled or a server fails.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	cfg.fill()
	if cfg.EFIFile != "" && cfg.EFIFile != "ipxe.efi" && cfg.EFIFile != "snponly.efi" && cfg.EFIFile != "shimx64.efi" {
		return fmt.Errorf("--efi-file %q: use ipxe.efi (its own NIC drivers), snponly.efi (the firmware's network stack) or shimx64.efi (signed shim -> GRUB, for Secure Boot)", cfg.EFIFile)
	}
	if cfg.Address != "" {
		// A malformed --address is a mistake in the command line, not a
		// network that is not there yet: waiting would never fix it.
		if a, err := netip.ParseAddr(cfg.Address); err != nil || !a.Is4() {
			return fmt.Errorf("--address %q is not an IPv4 address: give one like 192.168.1.10", cfg.Address)
		}
	}
	// No usable interface yet is not fatal: under launchd (which has no
	// "network is up" ordering) the daemon often starts before the LAN,
	// and a laptop may start with Wi-Fi off. The control socket comes up
	// and the follower binds when the network appears.
	choice, detectErr := netif.Detect(cfg.Interface, cfg.Address)
	initial := netif.State{Choice: choice, Err: detectErr}
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "assets"), 0o755); err != nil {
		return fmt.Errorf("create data directory %s: %w (run as root, or choose another with --data-dir)", cfg.DataDir, err)
	}
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "firmware"), 0o755); err != nil {
		return fmt.Errorf("create data directory %s: %w", cfg.DataDir, err)
	}
	st, err := store.OpenWith(ctx, cfg.storeLocation(), store.Options{Password: cfg.StorePassword, Instance: cfg.Instance})
	if err != nil {
		return err
	}
	defer st.Close()
	if cfg.EventsMax != 0 || cfg.EventsMaxAge != 0 {
		if err := st.SetEventRetention(ctx, cfg.EventsMax, cfg.EventsMaxAge); err != nil {
			return fmt.Errorf("--events-max/--events-max-age: %w", err)
		}
	}
	assets, err := os.OpenRoot(filepath.Join(cfg.DataDir, "assets"))
	if err != nil {
		return err
	}
	defer assets.Close()

	counters := events.NewCounters()
	hub := events.NewHub(st, log)
	defer hub.Close()
	fw := firmware.New(cfg.DataDir, cfg.EmbeddedFirmware, cfg.OSFirmwareDirs)
	ladder, err := openLadder(ctx, st, cfg.Loader, fw)
	if err != nil {
		return err
	}
	// Images may bring their own shim and GRUB (a shim boots only its
	// vendor's kernels): served under img/, offered per machine.
	fwImages := firmware.WithImages{Set: fw, AssetsDir: filepath.Join(cfg.DataDir, "assets")}
	loaderSets := newImageLoaders(st)
	ladder.UseLoaderSets(loaderSets, fwImages)
	neigh := neighbors.New(4096)
	dhcpSet, err := resolveDHCP(ctx, st, cfg)
	if err != nil {
		return err
	}
	addrs := &addresses{set: dhcpSet, st: st, log: log.With("server", "dhcp"), hub: hub}

	var paused atomic.Bool
	if v, err := st.Setting(ctx, store.SettingPaused); err == nil {
		p, _ := strconv.ParseBool(v)
		paused.Store(p)
	}
	started := time.Now().UTC()
	netState := &network{}
	netState.set(initial, false, "")
	serverURL := func() string { return fmt.Sprintf("http://%s:%d", netState.lastAddr(), cfg.HTTPPort) }

	var tokens httpboot.Tokens = st
	if cfg.NoIgnitionTokens {
		tokens = nil
		log.Warn("per-boot Ignition tokens are off: anyone on the LAN can fetch any machine's Ignition config by its MAC")
	}
	boot := httpboot.New(httpboot.Config{ServerURL: serverURL, TokenTTL: cfg.IgnitionTokenTTL}, httpboot.Deps{
		Tokens:   tokens,
		Log:      log.With("server", "http"),
		Store:    st,
		Assets:   assets,
		Firmware: fwImages.OpenReader,
		Events:   hub,
		Counters: counters,
		MACFor:   neigh.MACFor,
	})
	binder := &binder{
		cfg:        cfg,
		log:        log,
		hub:        hub,
		dhcpEvents: hub.Queue(4096, counters),
		counters:   counters,
		paused:     paused.Load,
		fw:         fwImages,
		loaderSets: loaderSets,
		neigh:      neigh,
		handler:    boot.Handler(),
		grub:       grubFiles{boot},
		ladder:     ladder,
		addrs:      addrs,
	}
	// The first binding happens here, so that a person who started
	// `pixie serve` by hand and finds a port held by another program is
	// told at once instead of left with a daemon that retries forever.
	// Under a service manager nobody reads that exit, and the manager's
	// restarts would only loop: the daemon stays, says why in status and
	// retries.
	var first *bootServers
	var problem string
	if initial.Usable() {
		var err error
		first, err = binder.bind(choice)
		if err != nil {
			if firstBindFatal(cfg.Supervised, err) {
				return err
			}
			problem = fmt.Sprintf("cannot serve on %s %s: %v; retrying every %s", choice.Interface, choice.Addr, err, rebindDelay)
			log.Error("binding boot servers", "err", err, "retry_in", rebindDelay)
		}
	} else {
		// The same words the follower uses when the link goes later.
		problem = detectErr.Error()
		log.Warn("no usable network interface yet: waiting for the network", "err", detectErr)
	}
	netState.set(initial, first != nil, problem)

	status := func() api.Status {
		state, bound, problem := netState.get()
		ifc, addr := state.Choice.Interface, state.Choice.Addr.String()
		if !state.Usable() {
			ifc, addr = cfg.Interface, ""
			if a := netState.lastAddr(); a.IsValid() {
				addr = a.String()
			}
			if ifc == "" {
				ifc = choice.Interface
			}
		}
		bootURL := ""
		if netState.lastAddr().IsValid() { // never served yet: no address to name
			bootURL = serverURL() + "/boot.ipxe"
		}
		st := api.Status{
			Serving:   bound && !paused.Load(),
			Paused:    paused.Load(),
			Problem:   problem,
			Interface: ifc,
			Address:   addr,
			Ports:     api.Ports{DHCP: cfg.DHCPPort, PXE: cfg.PXEPort, TFTP: cfg.TFTPPort, HTTP: cfg.HTTPPort},
			DataDir:   cfg.DataDir,
			Store:     api.StoreStatus{Backend: st.Backend(), Location: st.Location(), Instance: st.Instance()},
			Socket:    cfg.Socket,
			Version:   cfg.Version,
			StartedAt: started,
			Firmware:  fw.StatusReport(),
			Counters:  counters.Snapshot(),
			BootURL:   bootURL,

			DefaultLoader: string(ladder.Default()),
			EFIFile:       cfg.EFIFile,
		}
		if bound {
			st.DHCPLinkLayer, _ = binder.dhcpLink.Load().(string)
		}
		st.DHCP = addrs.status()
		return st
	}
	setPaused := func(ctx context.Context, p bool) error {
		if err := st.SetSetting(ctx, store.SettingPaused, strconv.FormatBool(p)); err != nil {
			return err
		}
		paused.Store(p)
		detail := "serving resumed"
		if p {
			detail = "serving paused: PXE clients are not answered"
		}
		hub.Record(ctx, events.Event{Stage: events.StageServer, Detail: detail})
		return nil
	}
	// Image pulls run here, as root with the daemon's network settings,
	// for every client of the control API.
	pullCtx, stopPulls := context.WithCancel(ctx)
	pullMgr := pulls.New(pullCtx, pulls.Config{Assets: filepath.Join(cfg.DataDir, "assets"), Log: log.With("server", "pulls")})
	defer pullMgr.Wait()
	defer stopPulls() // runs first: the pulls stop, then Wait returns
	ctl := control.New(control.Deps{Store: st, Hub: hub, Status: status, SetPaused: setPaused, Loaders: ladderAdapter{ladder},
		Addresses: addrs, Pulls: pullMgr, Log: log.With("server", "control")})
	ctlLn, err := ctl.Listen(cfg.Socket, cfg.SocketGroup)
	if err != nil {
		if first != nil {
			first.close()
		}
		return err
	}

	printBanner(cfg, initial, problem, fw, serverURL(), paused.Load(), addrs.status())
	if first != nil {
		log.Info("pixie serving", "interface", choice.Interface, "address", choice.Addr, "http", serverURL(), "data_dir", cfg.DataDir, "socket", cfg.Socket, "paused", paused.Load())
		hub.Record(ctx, events.Event{Stage: events.StageServer, Detail: fmt.Sprintf("started on %s %s", choice.Interface, choice.Addr)})
	} else {
		log.Warn("pixie started, not serving yet", "problem", problem, "data_dir", cfg.DataDir, "socket", cfg.Socket)
		hub.Record(ctx, events.Event{Stage: events.StageServer, Detail: "started, not serving yet: " + problem})
	}

	// Start-up is over: what it paged in of the executable and will not
	// run again leaves the resident set (see textpages).
	if n, err := textpages.Release(); err != nil {
		log.Debug("could not release start-up pages", "err", err)
	} else {
		log.Debug("released start-up pages of the executable", "bytes", n)
	}

	changes := make(chan netif.State)
	detect := func() (netif.Choice, error) { return netif.Detect(cfg.Interface, cfg.Address) }
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return ctl.Serve(gctx, ctlLn) })
	g.Go(func() error { return binder.dhcpEvents.Run(gctx) })
	ladderEvents, unsubscribe := hub.Subscribe(4096)
	defer unsubscribe()
	// The ladder decides from what this instance's servers saw; steps
	// other instances served (relayed for the live view) are not its.
	ownEvents := make(chan events.Event, 4096)
	g.Go(func() error { ownOnly(gctx, ladderEvents, ownEvents, st.Instance()); return nil })
	g.Go(func() error { ladder.Follow(gctx, ownEvents); return nil })
	g.Go(func() error { return relayOthers(gctx, st, hub, log) })
	g.Go(func() error {
		ladder.RunWriter(gctx, func(ctx context.Context, s dhcp.LadderStep) error {
			return st.SetLoaderStep(ctx, s.MAC, string(s.Rung), s.Reason, s.At)
		}, func(s dhcp.LadderStep, err error) {
			log.Warn("could not store the loader a machine stepped to; it holds until pixie restarts", "mac", s.MAC, "loader", s.Rung, "err", err)
		})
		return nil
	})
	g.Go(func() error {
		netif.Watch(gctx, initial, cfg.WatchInterval, detect, changes)
		return nil
	})
	g.Go(func() error { return binder.follow(gctx, initial, first, problem, changes, netState) })
	g.Go(func() error {
		// macOS only (elsewhere it returns at once): the host's UDP drops
		// on full buffers, since xnu has no per-socket count.
		udpstat.Watch(gctx, 10*time.Second, udpstat.FullSocketDrops, func(n uint64) {
			counters.Add("kernel.udp.dropped.full-socket", n)
			log.Info("the kernel dropped UDP datagrams on full socket buffers (host-wide: pixie's in a boot storm, or another program's)", "dropped", n)
		})
		return nil
	})
	err = g.Wait()
	log.Info("pixie stopped")
	if ctx.Err() != nil {
		return nil // asked to stop: not an error
	}
	return err
}

// printBanner says in a few lines what this daemon serves and where, so a
// person starting it by hand sees at once whether it is what they meant.
func printBanner(cfg Config, state netif.State, problem string, fw *firmware.Set, serverURL string, paused bool, ds api.DHCPStatus) {
	w := cfg.Banner
	switch {
	case problem == "" && ds.Mode == "full":
		fmt.Fprintf(w, "pixie %s serving on %s %s (full DHCP: pixie hands out %s, %d addresses, leases of %s)\n", cfg.Version, state.Choice.Interface, state.Choice.Addr, ds.Pool, ds.PoolSize, ds.LeaseTime)
		fmt.Fprintf(w, "  DHCP       udp %d, %d    TFTP  udp %d    HTTP  %s/boot.ipxe\n", cfg.DHCPPort, cfg.PXEPort, cfg.TFTPPort, serverURL)
	case problem == "":
		fmt.Fprintf(w, "pixie %s serving on %s %s (proxyDHCP: the LAN's DHCP server keeps handing out addresses)\n", cfg.Version, state.Choice.Interface, state.Choice.Addr)
		fmt.Fprintf(w, "  proxyDHCP  udp %d, %d    TFTP  udp %d    HTTP  %s/boot.ipxe\n", cfg.DHCPPort, cfg.PXEPort, cfg.TFTPPort, serverURL)
	default:
		fmt.Fprintf(w, "pixie %s started but is NOT serving yet: %s\n", cfg.Version, problem)
		fmt.Fprintf(w, "  proxyDHCP  udp %d, %d    TFTP  udp %d    HTTP  port %d, once bound\n", cfg.DHCPPort, cfg.PXEPort, cfg.TFTPPort, cfg.HTTPPort)
	}
	for _, r := range fw.Report() {
		if r.Ready() || r.Arch == firmware.ArchBIOS || r.Arch == firmware.ArchEFIx64 {
			fmt.Fprintf(w, "  firmware   %s\n", r)
		}
	}
	if st := cfg.storeLocation(); store.IsPostgres(st) {
		fmt.Fprintf(w, "  data       %s (images in assets/)   store  %s (instance %s)\n", cfg.DataDir, st, cfg.Instance)
	} else if cfg.Store != "" {
		fmt.Fprintf(w, "  data       %s (images in assets/)   database %s\n", cfg.DataDir, st)
	} else {
		fmt.Fprintf(w, "  data       %s (database pixie.db, images in assets/)\n", cfg.DataDir)
	}
	fmt.Fprintf(w, "  control    %s — try `pixie boots --follow`\n", cfg.Socket)
	if paused {
		fmt.Fprintf(w, "  PAUSED: PXE clients are not answered until `pixie resume`\n")
	}
	if problem == "" && ds.Mode == "proxy" {
		// The check runs beside the servers; its verdict comes as a
		// warning line in the log, in status and in the tray.
		fmt.Fprintf(w, "  DHCP       checking for a DHCP server on %s (`pixie status` says; none: run `pixie serve --dhcp`)\n", state.Choice.Interface)
	}
}

// openLadder reads the default loader (storing one given on the command
// line) and every machine's pin and rung into the DHCP server's book.
func openLadder(ctx context.Context, st *store.Store, given string, fw *firmware.Set) (*dhcp.LadderBook, error) {
	if given != "" {
		if _, err := dhcp.ParseLoader(given); err != nil {
			return nil, fmt.Errorf("--%s", err)
		}
		if err := st.SetSetting(ctx, store.SettingDefaultLoader, given); err != nil {
			return nil, fmt.Errorf("storing --loader %s: %w", given, err)
		}
	}
	stored, err := st.Setting(ctx, store.SettingDefaultLoader)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	def, err := dhcp.ParseLoader(stored)
	if err != nil {
		return nil, fmt.Errorf("stored default %v: start pixie with --loader auto to replace it", err)
	}
	ms, err := st.Machines(ctx)
	if err != nil {
		return nil, err
	}
	var seeds []dhcp.LadderSeed
	for _, m := range ms {
		if m.Loader != store.LoaderAuto || m.LoaderStep != "" {
			seeds = append(seeds, dhcp.LadderSeed{MAC: m.MAC, Pin: dhcp.Loader(m.Loader), Rung: dhcp.Loader(m.LoaderStep)})
		}
	}
	return dhcp.NewLadderBook(def, 65536, fw, seeds), nil
}

// ladderAdapter lets the control API tell the book of a person's choice.
type ladderAdapter struct{ b *dhcp.LadderBook }

func (a ladderAdapter) SetLoader(mac, loader, step string) {
	a.b.Set(mac, dhcp.Loader(loader), dhcp.Loader(step))
}

func (a ladderAdapter) Forget(mac string) { a.b.Forget(mac) }
