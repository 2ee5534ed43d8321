package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/dhcp"
	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/netif"
	"github.com/pixie-boot/pixie/daemon/store"
)

// errRivalServer is the refusal to start full-DHCP mode beside another
// DHCP server: a person at the terminal must decide (firstBindFatal).
var errRivalServer = errors.New("another DHCP server answers on this link")

// maxServersSeen bounds the list of other DHCP servers kept for status.
const maxServersSeen = 16

// addresses is the daemon's DHCP side: the mode, the current binding's
// full-DHCP state, and what pixie knows of the link's other DHCP servers.
// It is the control API's Addresses.
type addresses struct {
	set dhcpSettings
	st  *store.Store
	log *slog.Logger
	hub *events.Hub

	mu      sync.Mutex
	full    *dhcp.FullMode // this binding's; nil in proxy mode or unbound
	choice  netif.Choice
	checked bool
	servers []dhcp.Rival
	warning string
}

// prepare readies a binding on choice: in full mode the pool, the stored
// leases and reservations, after checking that no other DHCP server
// answers (unless --force). Nil in proxy mode.
func (a *addresses) prepare(ctx context.Context, choice netif.Choice) (*dhcp.FullMode, error) {
	a.mu.Lock()
	a.full, a.choice, a.checked, a.servers, a.warning = nil, choice, false, nil, ""
	a.mu.Unlock()
	if !a.set.full {
		return nil, nil
	}
	pool, err := a.set.pool(choice.Prefix)
	if err != nil {
		return nil, fmt.Errorf("full DHCP mode on %s %s: %w", choice.Interface, choice.Prefix, err)
	}
	rivals, err := dhcp.CheckRivals(ctx, choice.Interface, choice.Addr, dhcp.DefaultRivalWait)
	if err != nil {
		return nil, fmt.Errorf("full DHCP mode: %w", err)
	}
	a.mu.Lock()
	a.checked, a.servers = true, rivals
	a.mu.Unlock()
	if len(rivals) > 0 {
		names := rivalNames(rivals)
		if !a.set.force {
			return nil, fmt.Errorf("%w: %s offered an address on %s, so pixie will not hand out addresses there; run pixie without --dhcp (proxy mode works beside that server), or with --force if you are sure", errRivalServer, names, choice.Interface)
		}
		a.log.Warn("handing out addresses beside another DHCP server because of --force: machines may get addresses from either", "interface", choice.Interface, "servers", names)
	}
	leases, err := loadLeases(ctx, a.st)
	if err != nil {
		return nil, err
	}
	res, err := loadReservations(ctx, a.st)
	if err != nil {
		return nil, err
	}
	full := dhcp.NewFullMode(pool, leases, res, dhcp.FullOptions{LeaseTime: a.set.leaseTime, Router: a.set.router, DNS: a.set.dns}, storeLeases{a.st})
	a.mu.Lock()
	a.full = full
	a.mu.Unlock()
	return full, nil
}

// watch runs beside a binding's servers until ctx ends: in proxy mode the
// active check first (does anyone hand out addresses here?), then in both
// modes the passive watch of other servers' replies. portHolder names the
// program on this host that holds the DHCP port, if any: a DHCP server
// the check cannot see (its own host's frames never reach it), so the
// link is taken to have one.
func (a *addresses) watch(ctx context.Context, choice netif.Choice, portHolder string) {
	if !a.set.full && portHolder != "" {
		a.mu.Lock()
		a.checked = true
		a.addServer(dhcp.Rival{Server: choice.Addr, MAC: "this host: " + portHolder})
		a.mu.Unlock()
	} else if !a.set.full {
		rivals, err := dhcp.CheckRivals(ctx, choice.Interface, choice.Addr, dhcp.DefaultRivalWait)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			a.log.Warn("could not check for a DHCP server on the link", "interface", choice.Interface, "err", err)
		} else {
			a.noteCheck(ctx, choice, rivals)
		}
	}
	if err := dhcp.WatchRivals(ctx, choice.Interface, choice.Addr, func(r dhcp.Rival) { a.seen(ctx, r) }); err != nil {
		a.log.Warn("not watching for other DHCP servers", "interface", choice.Interface, "err", err)
	}
}

// noteCheck records the proxy-mode check's result and says when nobody
// hands out addresses.
func (a *addresses) noteCheck(ctx context.Context, choice netif.Choice, rivals []dhcp.Rival) {
	a.mu.Lock()
	a.checked = true
	for _, r := range rivals {
		a.addServer(r)
	}
	var note string
	if len(a.servers) == 0 {
		note = noDHCPServer(choice.Interface)
		a.warning = note
	}
	a.mu.Unlock()
	if note != "" {
		a.log.Warn(note)
		a.hub.Record(ctx, events.Event{Stage: events.StageServer, Detail: note})
	} else {
		a.log.Info("a DHCP server answers on the link", "interface", choice.Interface, "servers", rivalNames(rivals))
	}
}

// noDHCPServer is what pixie says when no DHCP server answered.
func noDHCPServer(iface string) string {
	return fmt.Sprintf("no DHCP server answered on %s: machines will get no address; run `pixie serve --dhcp` to hand out addresses on this link", iface)
}

// seen is the passive watch's news of another server's reply.
func (a *addresses) seen(ctx context.Context, r dhcp.Rival) {
	a.mu.Lock()
	isNew := a.addServer(r)
	full, iface := a.full, a.choice.Interface
	var note string
	switch {
	case full != nil && !a.set.force:
		why := fmt.Sprintf("another DHCP server, %s, answered on %s: pixie stopped handing out addresses there (PXE clients still get proxy answers); stop that server and restart pixie, or run pixie without --dhcp", r, iface)
		if full.SetRival(why) {
			a.warning, note = why, why
		}
	case full == nil && a.checked && a.warning != "":
		a.warning = "" // proxy mode: somebody does hand out addresses
	}
	a.mu.Unlock()
	if note != "" {
		a.log.Error(note)
		a.hub.Record(ctx, events.Event{Stage: events.StageServer, Detail: note})
	} else if isNew {
		a.log.Info("DHCP server seen on the link", "interface", iface, "server", r.String())
	}
}

// addServer remembers a server (a.mu held) and reports whether it is new.
func (a *addresses) addServer(r dhcp.Rival) bool {
	if slices.ContainsFunc(a.servers, func(s dhcp.Rival) bool { return s.Server == r.Server }) || len(a.servers) >= maxServersSeen {
		return false
	}
	a.servers = append(a.servers, r)
	return true
}

// noAddress is the note of a proxy-mode offer on a link where no DHCP
// server answered, "" otherwise.
func (a *addresses) noAddress() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.full != nil || !a.checked || len(a.servers) > 0 {
		return ""
	}
	return "pixie offered the boot file, but no DHCP server answered on " + a.choice.Interface + ": this machine gets no address and cannot boot; run `pixie serve --dhcp` to hand out addresses on this link"
}

// status is the DHCP part of `pixie status`.
func (a *addresses) status() api.DHCPStatus {
	a.mu.Lock()
	full := a.full
	s := api.DHCPStatus{Mode: "proxy", Checked: a.checked, Warning: a.warning}
	for _, r := range a.servers {
		s.Servers = append(s.Servers, r.String())
	}
	a.mu.Unlock()
	if a.set.full {
		s.Mode = "full"
		s.LeaseTime = a.set.leaseTime.String()
	}
	if full != nil {
		fs := full.Status()
		s.Pool, s.PoolSize, s.PoolUsed = fs.Pool, fs.PoolSize, fs.Used
		if fs.Used >= fs.PoolSize && s.Warning == "" {
			s.Warning = fmt.Sprintf("the DHCP pool %s is exhausted: all %d addresses are leased; widen it with --dhcp-range or shorten --dhcp-lease-time", fs.Pool, fs.PoolSize)
		}
	}
	return s
}

// CheckReservation refuses pixie's own address and, in full mode, an
// address of the pool (the pool's addresses go to whoever asks first).
func (a *addresses) CheckReservation(mac, ip string) error {
	addr, err := netip.ParseAddr(ip)
	if p, perr := netip.ParsePrefix(ip); perr == nil {
		addr, err = p.Addr(), nil
	}
	if err != nil {
		return nil // the store says what is wrong with it
	}
	a.mu.Lock()
	choice, full := a.choice, a.full
	a.mu.Unlock()
	if choice.Addr.IsValid() && addr == choice.Addr {
		return fmt.Errorf("%s is pixie's own address on %s: reserve another address for %s", addr, choice.Interface, mac)
	}
	if full != nil {
		if p := full.Pool(); p.Contains(addr) {
			return fmt.Errorf("%s is inside the DHCP pool %s, which pixie hands out to any machine: reserve an address outside it for %s (or move the pool with --dhcp-range)", addr, p, mac)
		}
	}
	return nil
}

// ReservationsChanged reloads the reservations into the lease table.
func (a *addresses) ReservationsChanged(ctx context.Context) {
	a.mu.Lock()
	full := a.full
	a.mu.Unlock()
	if full == nil {
		return
	}
	res, err := loadReservations(ctx, a.st)
	if err != nil {
		a.log.Warn("reloading reservations failed: the DHCP server keeps the old ones until pixie restarts", "err", err)
		return
	}
	full.SetReservations(res)
}

// Leases lists the lease table: the live one in full mode, the stored one
// otherwise.
func (a *addresses) Leases(ctx context.Context) (api.Leases, error) {
	a.mu.Lock()
	full := a.full
	a.mu.Unlock()
	out := api.Leases{Mode: "proxy", Leases: []api.Lease{}}
	if a.set.full {
		out.Mode = "full"
	}
	res, err := loadReservations(ctx, a.st)
	if err != nil {
		return out, err
	}
	reserved := map[string]netip.Addr{}
	for _, r := range res {
		reserved[r.MAC] = r.IP
	}
	var ls []dhcp.Lease
	if full != nil {
		out.Pool = full.Pool().String()
		ls = full.Leases()
	} else if ls, err = loadLeases(ctx, a.st); err != nil {
		return out, err
	}
	for _, l := range ls {
		out.Leases = append(out.Leases, api.Lease{IP: l.IP.String(), MAC: l.MAC, State: string(l.State), Expires: l.Expires,
			Hostname: l.Hostname, Reserved: l.MAC != "" && reserved[l.MAC] == l.IP})
	}
	return out, nil
}

func rivalNames(rs []dhcp.Rival) string {
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.String()
	}
	if len(names) == 1 {
		return "the DHCP server " + names[0]
	}
	return fmt.Sprintf("%d DHCP servers (%v)", len(names), names)
}
