// Command pixie-tray is pixie's menu-bar app. It runs as the logged-in
// user and controls the pixie daemon through its control socket only:
// a status line, a toggle that pauses and resumes network boot, the
// machines that booted recently (copy MAC, assign profile, show timeline,
// forget), and shortcuts to the data folder, the logs and installing the
// service.
//
// Usage:
//
//	pixie-tray [--socket PATH] [--pixie PATH] [--verbose]
//	pixie-tray --login-item on|off|status
//
// On Linux the menu is a StatusNotifierItem on the D-Bus session bus, so
// any panel that shows those (KDE, GNOME with the AppIndicator extension,
// Xfce, waybar...) shows pixie; it builds without cgo there. On macOS it
// is a menu-bar item and needs cgo.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"

	"github.com/pixie-boot/pixie/assets/icons"
	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/tray"
	"github.com/pixie-boot/pixie/tray/desktop"
	"github.com/pixie-boot/pixie/tray/menubar"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program; main only wires it to the process.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("pixie-tray", flag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.String("socket", api.DefaultSocketPath(), "the pixie daemon's control socket (default from $"+api.SocketEnv+" or the OS's)")
	pixie := fs.String("pixie", "", "the pixie binary that Install service runs as root (default: next to pixie-tray, else on $PATH)")
	verbose := fs.Bool("verbose", false, "log every reconnect, not only changes")
	showVersion := fs.Bool("version", false, "print the version and exit")
	login := fs.String("login-item", "", "`on`, off or status: start pixie's menu at every login of yours (a LaunchAgent on macOS, an autostart entry on Linux), then exit")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: pixie-tray [flags]\n\npixie's menu-bar app: shows and controls the pixie daemon over its control socket.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pixie-tray: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stderr, "pixie-tray", version)
		return 0
	}
	if *login != "" {
		return loginItem(processEnv(runtime.GOOS), *login, stderr)
	}

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	desk := desktop.New(*pixie)
	cfg := tray.Config{
		Client:           api.NewClient(*socket),
		Desktop:          desk,
		Quit:             cancel,
		ServiceInstalled: desk.ServiceInstalled,
		DataDir:          desktop.DataDir(runtime.GOOS),
		Log:              log,
		Dashboard:        (&dashboard{ctx: ctx, socket: *socket, log: log}).link,
	}
	if li, ok := menuLoginItem(processEnv(runtime.GOOS)); ok {
		cfg.LoginItem = func() (bool, bool) {
			st, err := li.Read()
			return st.On, err == nil
		}
		cfg.SetLoginItem = func(on bool) error {
			_, err := li.Set(on)
			return err
		}
	}
	ctrl := tray.New(cfg)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ctrl.Run(ctx)
	}()
	log.Info("pixie-tray starting", "version", version, "socket", *socket)
	err := menubar.Run(ctx, ctrl, menubar.Icons{
		OnTemplate: icons.Template(true), OffTemplate: icons.Template(false),
		On: icons.Color(true), Off: icons.Color(false),
	})
	cancel()
	wg.Wait()
	if err != nil {
		log.Error("pixie-tray cannot show its menu", "err", err)
		return 1
	}
	return 0
}
