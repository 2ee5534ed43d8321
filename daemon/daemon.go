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
	"net"
	"net/http"
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
	"github.com/pixie-boot/pixie/daemon/store"
	"github.com/pixie-boot/pixie/daemon/tftp"
)

// Config is everything `pixie serve` can be told. Zero values mean "work it
// out": the interface and address are detected, ports take their standard
// numbers.
type Config struct {
	Interface string
	Address   string
	DataDir   string

	DHCPPort int // 67
	PXEPort  int // 4011
	TFTPPort int // 69
	HTTPPort int // 8080

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
	serverURL := fmt.Sprintf("http://%s:%d", choice.Addr, cfg.HTTPPort)
	started := time.Now().UTC()

	dhcpSrv, err := dhcp.New(dhcp.Config{
		Interface: choice.Interface,
		ServerIP:  choice.Addr,
		HTTPPort:  cfg.HTTPPort,
		DHCPPort:  cfg.DHCPPort,
		PXEPort:   cfg.PXEPort,
		EFIFile:   cfg.EFIFile,
	}, dhcp.Deps{
		Log:      log.With("server", "dhcp"),
		Events:   hub,
		Counters: counters,
		Paused:   paused.Load,
		Firmware: fw,
		Seen:     neigh.Seen,
	})
	if err != nil {
		return fmt.Errorf("proxyDHCP on %s: %w (is another DHCP/PXE server running? see `pixie doctor`)", choice.Interface, err)
	}
	tftpSrv := tftp.New(tftp.Config{Addr: net.JoinHostPort(choice.Addr.String(), strconv.Itoa(cfg.TFTPPort))}, tftp.Deps{
		Log:      log.With("server", "tftp"),
		Files:    fw,
		Events:   hub,
		Counters: counters,
		MACFor:   neigh.MACFor,
	})
	var tokens httpboot.Tokens = st
	if cfg.NoIgnitionTokens {
		tokens = nil
		log.Warn("per-boot Ignition tokens are off: anyone on the LAN can fetch any machine's Ignition config by its MAC")
	}
	boot := httpboot.New(httpboot.Config{ServerURL: func() string { return serverURL }, TokenTTL: cfg.IgnitionTokenTTL}, httpboot.Deps{
		Tokens:   tokens,
		Log:      log.With("server", "http"),
		Store:    st,
		Assets:   assets,
		Firmware: fw.OpenReader,
		Events:   hub,
		Counters: counters,
	})
	httpLn, err := net.Listen("tcp4", net.JoinHostPort(choice.Addr.String(), strconv.Itoa(cfg.HTTPPort)))
	if err != nil {
		return fmt.Errorf("HTTP on %s port %d: %w (another program holds the port? pick one with --http-port)", choice.Addr, cfg.HTTPPort, err)
	}
	httpSrv := &http.Server{Handler: boot.Handler(), ReadHeaderTimeout: 10 * time.Second}

	status := func() api.Status {
		return api.Status{
			Serving:   !paused.Load(),
			Paused:    paused.Load(),
			Interface: choice.Interface,
			Address:   choice.Addr.String(),
			Ports:     api.Ports{DHCP: cfg.DHCPPort, PXE: cfg.PXEPort, TFTP: cfg.TFTPPort, HTTP: cfg.HTTPPort},
			DataDir:   cfg.DataDir,
			Socket:    cfg.Socket,
			Version:   cfg.Version,
			StartedAt: started,
			Firmware:  firmwareReport(fw),
			Counters:  counters.Snapshot(),
			BootURL:   serverURL + "/boot.ipxe",
		}
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
		httpLn.Close()
		return err
	}

	printBanner(cfg, choice, fw, serverURL, paused.Load())
	log.Info("pixie serving", "interface", choice.Interface, "address", choice.Addr, "http", serverURL, "data_dir", cfg.DataDir, "socket", cfg.Socket, "paused", paused.Load())
	hub.Record(ctx, events.Event{Stage: events.StageServer, Detail: fmt.Sprintf("started on %s %s", choice.Interface, choice.Addr)})

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return dhcpSrv.Serve(gctx) })
	g.Go(func() error { return tftpSrv.Serve(gctx) })
	g.Go(func() error { return ctl.Serve(gctx, ctlLn) })
	g.Go(func() error {
		err := httpSrv.Serve(httpLn)
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("HTTP server: %w", err)
	})
	g.Go(func() error {
		<-gctx.Done()
		shut, cancel := context.WithTimeout(context.WithoutCancel(gctx), 5*time.Second)
		defer cancel()
		return httpSrv.Shutdown(shut)
	})
	err = g.Wait()
	log.Info("pixie stopped")
	if ctx.Err() != nil {
		return nil // asked to stop: not an error
	}
	return err
}

func firmwareReport(fw *firmware.Set) []api.Firmware {
	var out []api.Firmware
	for _, r := range fw.Report() {
		a := api.Firmware{Arch: string(r.Arch), Files: []api.FirmwareFile{}, Missing: r.Missing()}
		for _, f := range r.Found() {
			a.Files = append(a.Files, api.FirmwareFile{Name: f.Name, Source: f.Source})
		}
		out = append(out, a)
	}
	return out
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
