package tftp

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/pixie-boot/pixie/daemon/events"
)

// grubWatch notices a machine that fetched GRUB from pixie and then never
// asked pixie for its config. Debian's and upstream GRUB ignore the
// proxyDHCP offer and look for their config at the next-server of the LAN
// DHCP server's answer; when that is not pixie, GRUB stops at its prompt
// and pixie sees nothing more. Only pixie can tell the person why.
//
// Machines are keyed by address: the GRUB download and the config request
// come from the same IP, and the MAC may be unknown for either.
type grubWatch struct {
	wait    time.Duration
	timeout func(ip, mac, file string)

	mu      sync.Mutex
	pending map[string]*time.Timer
	stopped bool
}

// maxWatched bounds the machines watched at once; beyond it a GRUB
// download goes unwatched rather than growing the map without end.
const maxWatched = 4096

func newGRUBWatch(wait time.Duration, timeout func(ip, mac, file string)) *grubWatch {
	return &grubWatch{wait: wait, timeout: timeout, pending: map[string]*time.Timer{}}
}

// fetched starts (or restarts) the wait for ip's config request.
func (w *grubWatch) fetched(ip, mac, file string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	if t, ok := w.pending[ip]; ok {
		t.Stop()
	} else if len(w.pending) >= maxWatched {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(w.wait, func() {
		w.mu.Lock()
		mine := w.pending[ip] == t && !w.stopped
		if mine {
			delete(w.pending, ip)
		}
		w.mu.Unlock()
		if mine {
			w.timeout(ip, mac, file)
		}
	})
	w.pending[ip] = t
}

// asked ends the wait: ip asked for its config.
func (w *grubWatch) asked(ip string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if t, ok := w.pending[ip]; ok {
		t.Stop()
		delete(w.pending, ip)
	}
}

// stop cancels every wait (the server is stopping).
func (w *grubWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	for ip, t := range w.pending {
		t.Stop()
		delete(w.pending, ip)
	}
}

// grubNeverAsked records the explanation as the machine's boot event.
func (s *Server) grubNeverAsked(ip, mac, file string) {
	server := "pixie's address"
	if h, _, err := net.SplitHostPort(s.cfg.Addr); err == nil && h != "" && h != "0.0.0.0" {
		server = h
	}
	s.deps.Counters.Inc("tftp.grub_no_config")
	s.deps.Log.Warn("machine fetched GRUB but never asked for its config", "mac", mac, "ip", ip, "file", file, "waited", s.cfg.GRUBConfigWait.String())
	s.record(context.Background(), events.Event{
		MAC: mac, IP: ip, Stage: events.StageError,
		Detail: fmt.Sprintf("fetched %s but never asked pixie for its GRUB config within %s: GRUB looks for its config only at the next-server of the LAN's DHCP server, not pixie's proxy offer. "+
			"Set the LAN DHCP server's next-server (\"network boot\" / \"TFTP server\" option) to %s, or let pixie be the DHCP server (full DHCP mode) on a link of its own",
			file, s.cfg.GRUBConfigWait, server),
	})
}
