// Package daemon wires pixie's servers together: it picks the interface,
// opens the data directory and database, and runs proxyDHCP, TFTP, HTTP and
// the control socket until its context ends.
package daemon

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/control"
	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/firmware"
	"github.com/pixie-boot/pixie/daemon/httpboot"
	"github.com/pixie-boot/pixie/daemon/neighbors"
	"github.com/pixie-boot/pixie/daemon/netif"
	"github.com/pixie-boot/pixie/daemon/store"
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

	// EFIFile is the first-stage file for x86-64 UEFI: ipxe.efi or
	// snponly.efi.
	EFIFile string
	// EmbeddedFirmware is the firmware built into the binary, if any.
	EmbeddedFirmware fs.FS
	// OSFirmwareDirs are where the OS's iPXE package puts its files.
	OSFirmwareDirs []string

	// NoIgnitionTokens turns per-boot Ignition tokens off: /ignition then
	// serves any machine's config to whoever names its MAC (debugging only).
	NoIgnitionTokens bool
	// IgnitionTokenTTL is how long a per-boot token is valid (default 1h).
	IgnitionTokenTTL time.Duration

	// EventsMax and EventsMaxAge, when not zero, replace the stored limits
	// of the boot event table (newest kept).
	EventsMax    int64
	EventsMaxAge time.Duration

	// WatchInterval is how often the interface is checked for a new
	// address or a link going down (default 2s).
	WatchInterval time.Duration

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
	if c.EFIFile == "" {
		c.EFIFile = "ipxe.efi"
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
}

// Run serves until ctx is cancelled or a server fails.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	cfg.fill()
	if cfg.EFIFile != "ipxe.efi" && cfg.EFIFile != "snponly.efi" {
		return fmt.Errorf("--efi-file %q: use ipxe.efi (its own NIC drivers) or snponly.efi (the firmware's network stack)", cfg.EFIFile)
	}
	choice, err := netif.Detect(cfg.Interface, cfg.Address)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "assets"), 0o755); err != nil {
		return fmt.Errorf("create data directory %s: %w (run as root, or choose another with --data-dir)", cfg.DataDir, err)
	}
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "firmware"), 0o755); err != nil {
		return fmt.Errorf("create data directory %s: %w", cfg.DataDir, err)
	}
	st, err := store.Open(ctx, filepath.Join(cfg.DataDir, "pixie.db"))
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
	neigh := neighbors.New(4096)

	var paused atomic.Bool
	if v, err := st.Setting(ctx, store.SettingPaused); err == nil {
		p, _ := strconv.ParseBool(v)
		paused.Store(p)
	}
	started := time.Now().UTC()
	netState := &network{}
	netState.set(netif.State{Choice: choice}, false, "")
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
		Firmware: fw.OpenReader,
		Events:   hub,
		Counters: counters,
	})
	binder := &binder{
		cfg:        cfg,
		log:        log,
		hub:        hub,
		dhcpEvents: hub.Queue(8192, counters),
		counters:   counters,
		paused:     paused.Load,
		fw:         fw,
		neigh:      neigh,
		handler:    boot.Handler(),
	}
	// The first binding happens here, so that a port held by another
	// program stops `pixie serve` with an explanation instead of leaving a
	// daemon that retries forever.
	first, err := binder.bind(choice)
	if err != nil {
		return err
	}
	netState.set(netif.State{Choice: choice}, true, "")

	status := func() api.Status {
		state, bound, problem := netState.get()
		ifc, addr := state.Choice.Interface, state.Choice.Addr.String()
		if !state.Usable() {
			ifc, addr = cfg.Interface, netState.lastAddr().String()
			if ifc == "" {
				ifc = choice.Interface
			}
		}
		st := api.Status{
			Serving:   bound && !paused.Load(),
			Paused:    paused.Load(),
			Problem:   problem,
			Interface: ifc,
			Address:   addr,
			Ports:     api.Ports{DHCP: cfg.DHCPPort, PXE: cfg.PXEPort, TFTP: cfg.TFTPPort, HTTP: cfg.HTTPPort},
			DataDir:   cfg.DataDir,
			Socket:    cfg.Socket,
			Version:   cfg.Version,
			StartedAt: started,
			Firmware:  fw.StatusReport(),
			Counters:  counters.Snapshot(),
			BootURL:   serverURL() + "/boot.ipxe",
		}
		if bound {
			st.DHCPLinkLayer, _ = binder.dhcpLink.Load().(string)
		}
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
	ctl := control.New(control.Deps{Store: st, Hub: hub, Status: status, SetPaused: setPaused, Log: log.With("server", "control")})
	ctlLn, err := ctl.Listen(cfg.Socket, cfg.SocketGroup)
	if err != nil {
		first.close()
		return err
	}

	printBanner(cfg, choice, fw, serverURL(), paused.Load())
	log.Info("pixie serving", "interface", choice.Interface, "address", choice.Addr, "http", serverURL(), "data_dir", cfg.DataDir, "socket", cfg.Socket, "paused", paused.Load())
	hub.Record(ctx, events.Event{Stage: events.StageServer, Detail: fmt.Sprintf("started on %s %s", choice.Interface, choice.Addr)})

	changes := make(chan netif.State)
	detect := func() (netif.Choice, error) { return netif.Detect(cfg.Interface, cfg.Address) }
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return ctl.Serve(gctx, ctlLn) })
	g.Go(func() error { return binder.dhcpEvents.Run(gctx) })
	g.Go(func() error {
		netif.Watch(gctx, netif.State{Choice: choice}, cfg.WatchInterval, detect, changes)
		return nil
	})
	g.Go(func() error { return binder.follow(gctx, netif.State{Choice: choice}, first, changes, netState) })
	err = g.Wait()
	log.Info("pixie stopped")
	if ctx.Err() != nil {
		return nil // asked to stop: not an error
	}
	return err
}

// printBanner says in a few lines what this daemon serves and where, so a
// person starting it by hand sees at once whether it is what they meant.
func printBanner(cfg Config, choice netif.Choice, fw *firmware.Set, serverURL string, paused bool) {
	w := cfg.Banner
	fmt.Fprintf(w, "pixie %s serving on %s %s (proxyDHCP: the LAN's DHCP server keeps handing out addresses)\n", cfg.Version, choice.Interface, choice.Addr)
	fmt.Fprintf(w, "  proxyDHCP  udp %d, %d    TFTP  udp %d    HTTP  %s/boot.ipxe\n", cfg.DHCPPort, cfg.PXEPort, cfg.TFTPPort, serverURL)
	for _, r := range fw.Report() {
		if r.Ready() || r.Arch == firmware.ArchBIOS || r.Arch == firmware.ArchEFIx64 {
			fmt.Fprintf(w, "  firmware   %s\n", r)
		}
	}
	fmt.Fprintf(w, "  data       %s (database pixie.db, images in assets/)\n", cfg.DataDir)
	fmt.Fprintf(w, "  control    %s — try `pixie boots --follow`\n", cfg.Socket)
	if paused {
		fmt.Fprintf(w, "  PAUSED: PXE clients are not answered until `pixie resume`\n")
	}
}
