package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/pixie-boot/pixie/ui"
)

func newUICmd(c *cli) *cobra.Command {
	var listen string
	var noBrowser bool
	cmd := &cobra.Command{
		Use:   "ui",
		Short: "Open the web dashboard: live boots, status and the pause switch, in a browser",
		Long: `Serve pixie's dashboard on this computer's loopback address and open it in
the browser. It shows the daemon's status with a pause switch and the
machines booting now, stage by stage, as they go.

The page is a client of the daemon like the CLI: it can do what the user
running ` + "`pixie ui`" + ` may do on the control socket (root, or a member of its
group), nothing more. It listens on 127.0.0.1 only; the printed link carries
a one-time login token that signs one browser in. From another computer,
forward the port over SSH and open the link there:

  ssh -L 8088:127.0.0.1:8088 user@pixie-host   # then, on pixie-host: pixie ui --listen 127.0.0.1:8088

Stop it with Ctrl-C; the daemon goes on.`,
		Example: `  pixie ui
  pixie ui --listen 127.0.0.1:8088 --no-browser`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			host, _, err := net.SplitHostPort(listen)
			if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
				return usageErrorf("--listen %s: give a loopback address and port, like 127.0.0.1:8088 (the dashboard is for this computer; from another one, use `ssh -L`)", listen)
			}
			ctx, cancel := callCtx(cmd)
			_, err = c.client().Status(ctx)
			cancel()
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("the dashboard cannot listen on %s (%v): give another port with --listen 127.0.0.1:PORT", listen, err)
			}
			defer ln.Close()
			log := slog.New(slog.NewTextHandler(c.errOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
			s, err := ui.New(ui.Config{Socket: c.socket, Addr: ln.Addr().String(), Log: log})
			if err != nil {
				return err
			}
			link, err := s.LoginURL("")
			if err != nil {
				return err
			}
			fmt.Fprintf(c.out, "pixie dashboard: %s\n", link)
			fmt.Fprintln(c.out, "the link signs one browser in, once; stop the dashboard with Ctrl-C")
			if !noBrowser {
				if why := openBrowser(link); why != "" {
					fmt.Fprintf(c.out, "open the link in your browser (%s)\n", why)
				}
			}
			if err := s.Serve(cmd.Context(), ln); err != nil {
				return fmt.Errorf("the dashboard stopped: %w", err)
			}
			fmt.Fprintln(c.out, "dashboard stopped")
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:0", "loopback `ADDRESS:PORT` to serve on (default: a free port)")
	cmd.Flags().BoolVar(&noBrowser, "no-browser", false, "print the link only, do not open a browser")
	return cmd
}

// openBrowser starts the desktop's browser on link, or says why it did
// not ("" when it did).
func openBrowser(link string) string {
	if os.Geteuid() == 0 {
		return "not opening a browser as root"
	}
	var name string
	switch runtime.GOOS {
	case "darwin":
		name = "open"
	case "linux":
		if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
			return "no desktop session here"
		}
		name = "xdg-open"
	default:
		return "no browser launcher known on " + runtime.GOOS
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return name + " not found"
	}
	cmd := exec.Command(path, link)
	if err := cmd.Start(); err != nil {
		return fmt.Sprintf("%s failed: %v", name, err)
	}
	go cmd.Wait()
	return ""
}
