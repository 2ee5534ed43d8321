package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/pixie-boot/pixie/ui"
)

// dashboard is the web dashboard the menu opens: the same server `pixie
// ui` runs, started in this process on its first use and serving until
// the menu quits, on a free loopback port.
type dashboard struct {
	ctx    context.Context
	socket string
	log    *slog.Logger

	mu  sync.Mutex
	srv *ui.Server
}

// link returns a one-time login link (at mac's timeline when mac is set),
// starting the server if it is not running yet.
func (d *dashboard) link(_ context.Context, mac string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.srv == nil {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", fmt.Errorf("no loopback port for the dashboard: %w", err)
		}
		srv, err := ui.New(ui.Config{Socket: d.socket, Addr: ln.Addr().String(), Log: d.log})
		if err != nil {
			ln.Close()
			return "", err
		}
		go func() {
			if err := srv.Serve(d.ctx, ln); err != nil {
				d.log.Warn("the dashboard stopped", "err", err)
			}
		}()
		d.log.Info("dashboard serving", "addr", ln.Addr().String())
		d.srv = srv
	}
	return d.srv.LoginURL(mac)
}
