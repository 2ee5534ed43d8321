package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pixie-boot/pixie/daemon/dhcp"
	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/firmware"
	"github.com/pixie-boot/pixie/daemon/httpboot"
	"github.com/pixie-boot/pixie/daemon/neighbors"
	"github.com/pixie-boot/pixie/daemon/netif"
	"github.com/pixie-boot/pixie/daemon/tftp"
)

// rebindDelay is how long the daemon waits before trying again to bind
// the boot servers after a failure, while the interface looks usable.
const rebindDelay = 3 * time.Second

// network is what the boot servers are bound to right now, for status and
// for the URLs handed to machines.
type network struct {
	mu      sync.Mutex
	state   netif.State
	last    netip.Addr // the last usable address: URLs keep it while down
	bound   bool
	problem string
}

func (n *network) set(s netif.State, bound bool, problem string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.state, n.bound, n.problem = s, bound, problem
	if s.Usable() {
		n.last = s.Choice.Addr
	}
}

func (n *network) get() (netif.State, bool, string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.state, n.bound, n.problem
}

func (n *network) lastAddr() netip.Addr {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.last
}

// binder starts the network-facing servers (proxyDHCP, TFTP, HTTP) on one
// interface and address, and starts them again elsewhere when the network
// changes. The database, event hub and control socket outlive any binding.
type binder struct {
	cfg Config
	log *slog.Logger
	hub *events.Hub
	// dhcpEvents queues proxyDHCP's events so its read loop never waits
	// for a database commit.
	dhcpEvents *events.Queue
	counters   *events.Counters
	paused     func() bool
	fw         firmware.WithImages // the server's set and each image's own loaders
	loaderSets dhcp.LoaderSets
	neigh      *neighbors.Table
	handler    http.Handler
	grub       tftp.Generated
	ladder     *dhcp.LadderBook
	// addrs is the DHCP mode and what is known of the link's servers.
	addrs *addresses
	// dhcpLink is the current binding's dhcp.Server.LinkLayer, for status.
	dhcpLink atomic.Value
}

// bootServers are the servers of one binding, sockets already open.
type bootServers struct {
	choice   netif.Choice
	addrs    *addresses
	dhcp     *dhcp.Server
	tftp     *tftp.Server
	tftpConn *net.UDPConn
	httpLn   net.Listener
	http     *http.Server
}

// bind opens every socket for choice, or none: the error says which port
// could not be had and what to do about it.
func (b *binder) bind(choice netif.Choice) (*bootServers, error) {
	cfg := b.cfg
	full, err := b.addrs.prepare(context.Background(), choice)
	if err != nil {
		return nil, err
	}
	dhcpSrv, err := dhcp.New(dhcp.Config{
		Interface: choice.Interface,
		ServerIP:  choice.Addr,
		HTTPPort:  cfg.HTTPPort,
		DHCPPort:  cfg.DHCPPort,
		PXEPort:   cfg.PXEPort,
		EFIFile:   cfg.EFIFile,
		LinkLayer: cfg.DHCPLinkLayer,
	}, dhcp.Deps{
		Log:        b.log.With("server", "dhcp"),
		Events:     b.dhcpEvents,
		Counters:   b.counters,
		Paused:     b.paused,
		Firmware:   b.fw,
		Seen:       b.neigh.Seen,
		Ladder:     b.ladder,
		Full:       full,
		NoAddress:  b.addrs.noAddress,
		LoaderSets: b.loaderSets,
	})
	if err != nil {
		return nil, err
	}
	if err := dhcpSrv.Listen(); err != nil {
		mode := "proxyDHCP"
		if full != nil {
			mode = "full DHCP"
		}
		return nil, fmt.Errorf("%s on %s: %w (is another DHCP/PXE server running? see `pixie doctor`)", mode, choice.Interface, err)
	}
	tftpAddr := &net.UDPAddr{IP: net.IP(choice.Addr.AsSlice()), Port: cfg.TFTPPort}
	tftpConn, err := net.ListenUDP("udp4", tftpAddr)
	if err != nil {
		dhcpSrv.Close()
		return nil, fmt.Errorf("TFTP on %s: %w (another TFTP server running? see `pixie doctor`, or pick a port with --tftp-port)", tftpAddr, err)
	}
	httpLn, err := net.Listen("tcp4", net.JoinHostPort(choice.Addr.String(), strconv.Itoa(cfg.HTTPPort)))
	if err != nil {
		dhcpSrv.Close()
		tftpConn.Close()
		return nil, fmt.Errorf("HTTP on %s port %d: %w (another program holds the port? pick one with --http-port)", choice.Addr, cfg.HTTPPort, err)
	}
	b.dhcpLink.Store(dhcpSrv.LinkLayer())
	return &bootServers{
		choice: choice,
		addrs:  b.addrs,
		dhcp:   dhcpSrv,
		tftp: tftp.New(tftp.Config{Addr: tftpAddr.String()}, tftp.Deps{
			Log:       b.log.With("server", "tftp"),
			Files:     b.fw,
			Events:    b.hub,
			Counters:  b.counters,
			MACFor:    b.neigh.MACFor,
			Generated: b.grub,
		}),
		tftpConn: tftpConn,
		httpLn:   httpLn,
		http:     &http.Server{Handler: b.handler, ReadHeaderTimeout: 10 * time.Second, ConnContext: httpboot.ConnContext},
	}, nil
}

// close releases the sockets of servers that never served.
func (s *bootServers) close() {
	s.dhcp.Close()
	s.tftpConn.Close()
	s.httpLn.Close()
}

// serve runs the servers until ctx ends (nil) or one of them fails.
func (s *bootServers) serve(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.dhcp.Serve(gctx) })
	g.Go(func() error { s.addrs.watch(gctx, s.choice, s.dhcp.PortHolder()); return nil })
	g.Go(func() error { return s.tftp.ServeConn(gctx, s.tftpConn) })
	g.Go(func() error {
		err := s.http.Serve(s.httpLn)
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("HTTP server: %w", err)
	})
	g.Go(func() error {
		<-gctx.Done()
		// Transfers in flight get a moment to finish; after an address
		// change their connections are dead anyway.
		shut, cancel := context.WithTimeout(context.WithoutCancel(gctx), 2*time.Second)
		defer cancel()
		if err := s.http.Shutdown(shut); err != nil {
			s.http.Close()
		}
		return nil
	})
	return g.Wait()
}

// follow serves on the current binding and moves it whenever the watcher
// reports a new network state: down means stop answering (and say why),
// a new address means serving there and handing out URLs with it. A
// failure while the network looks fine is retried, never fatal: the
// daemon's job is to be there when the laptop is back on the LAN.
func (b *binder) follow(ctx context.Context, state netif.State, cur *bootServers, problem string, changes <-chan netif.State, nw *network) error {
	for {
		var (
			done   chan error
			stop   = func() {}
			retry  <-chan time.Time
			runCtx context.Context
		)
		if cur != nil {
			runCtx, stop = context.WithCancel(ctx)
			done = make(chan error, 1)
			go func(s *bootServers) { done <- s.serve(runCtx) }(cur)
		} else if state.Usable() {
			retry = time.After(rebindDelay)
		}
		select {
		case <-ctx.Done():
			stop()
			if done != nil {
				<-done
			}
			return nil
		case next := <-changes:
			stop()
			if done != nil {
				<-done
			}
			detail := netif.Describe(state, next)
			b.log.Warn("network changed", "detail", detail)
			b.hub.Record(ctx, events.Event{Stage: events.StageServer, Detail: detail})
			state, cur, problem = next, nil, ""
			if !state.Usable() {
				problem = state.Err.Error()
			}
		case err := <-done:
			stop()
			cur = nil
			problem = fmt.Sprintf("boot servers on %s %s stopped: %v; retrying every %s", state.Choice.Interface, state.Choice.Addr, err, rebindDelay)
			b.log.Error("boot servers stopped", "err", err, "retry_in", rebindDelay)
			b.hub.Record(ctx, events.Event{Stage: events.StageServer, Detail: problem})
			nw.set(state, false, problem)
			continue // wait for the retry timer or a change
		case <-retry:
		}
		if cur == nil && state.Usable() {
			s, err := b.bind(state.Choice)
			if err != nil {
				msg := fmt.Sprintf("cannot serve on %s %s: %v; retrying every %s", state.Choice.Interface, state.Choice.Addr, err, rebindDelay)
				if msg != problem {
					b.log.Error("binding boot servers", "err", err, "retry_in", rebindDelay)
					b.hub.Record(ctx, events.Event{Stage: events.StageServer, Detail: msg})
				}
				problem = msg
			} else {
				cur, problem = s, ""
				b.log.Info("boot servers bound", "interface", s.choice.Interface, "address", s.choice.Addr)
			}
		}
		nw.set(state, cur != nil, problem)
	}
}

// firstBindFatal decides whether a failure of the first binding ends the
// daemon. Only in the foreground, and only for what a person at the
// terminal must fix (another program holds a boot port, or pixie lacks
// the right to bind it): anything else, such as an address that vanished
// between detection and bind, is the network still settling, and the
// follower retries it.
func firstBindFatal(supervised bool, err error) bool {
	if supervised {
		return false
	}
	return errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, syscall.EACCES) || errors.Is(err, errRivalServer)
}

// UnderServiceManager reports whether the environment (read through
// getenv) shows that a service manager started this process: systemd sets
// INVOCATION_ID for every unit it runs, launchd sets XPC_SERVICE_NAME to
// the job's label. A Terminal session on macOS carries XPC_SERVICE_NAME=0,
// which is not a job.
func UnderServiceManager(getenv func(string) string) bool {
	if getenv("INVOCATION_ID") != "" {
		return true
	}
	name := getenv("XPC_SERVICE_NAME")
	return name != "" && name != "0"
}
