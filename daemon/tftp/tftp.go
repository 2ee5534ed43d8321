// Package tftp is pixie's read-only TFTP server: it sends the iPXE
// first-stage file that proxyDHCP pointed a PXE client at, and nothing
// else. It is built on github.com/pin/tftp/v3, which negotiates the blksize
// and tsize options (RFC 2348, RFC 2349).
//
// Two pin/tftp features stay off on purpose: "anticipate" sends several
// blocks before waiting for an ACK although the client never negotiated a
// window (it is not RFC 7440), and single-port mode, which misbehaves with
// it, pushes every transfer through the one server socket. Each transfer
// gets its own socket, as RFC 1350 intends.
//
// Every name a client asks for goes through the firmware set
// (daemon/firmware), which refuses traversal, directories, symlink escapes
// and odd bytes. Each transfer is logged with the client's address and, when
// proxyDHCP saw it, its MAC. Counters (in events.Counters):
//
//	tftp.sent           a file was sent completely (also a boot event)
//	tftp.tsize_probe    the client ended the transfer during option
//	                    negotiation: UEFI firmware asks for the size, then
//	                    aborts (error 8) and asks again; normal
//	tftp.failed         a transfer broke off after data was sent
//	tftp.refused        the name was refused (traversal, directories, ...)
//	tftp.not_found      no source has the file
//	tftp.error          the file exists but could not be read
//	tftp.write_refused  a write request (the server is read-only)
//	tftp.bad_packet     a packet on the server port that is no request
//
// pin/tftp v3.1.0 always sends TFTP error code 1 ("file not found") when a
// transfer is refused; the message text says "access violation" or "file not
// found".
package tftp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/pin/tftp/v3"
	"golang.org/x/net/ipv4"

	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/firmware"
)

// Files opens the files the server may send. *firmware.Set implements it;
// it must validate the name, which comes straight from the network.
type Files interface {
	Open(name string) (*firmware.File, error)
}

// Generated makes the files that are not firmware: GRUB configs, and the
// kernels and initrds those configs name. It must validate the name,
// which comes straight from the network, and return an error matching
// ErrNotGenerated for names that are not its own (they are then looked up
// as firmware), ErrProbe for names a client tries that are never there
// (answered "not found" without a warning), or another error when the
// name is its own but cannot be served (it has recorded why).
type Generated interface {
	OpenGenerated(ctx context.Context, name string, ip net.IP, mac string) (*GeneratedFile, error)
}

// GeneratedFile is what Generated returns.
type GeneratedFile struct {
	Content io.ReadSeekCloser
	Name    string // for logs and events: "GRUB config", an asset path
	Source  string // for logs, e.g. "generated", "assets"
	MAC     string // the machine it is for; wins over MACFor's
	Size    int64
	// Stage, when set, is recorded with Detail once the whole file is
	// sent (kernel, initrd). Configs are recorded when they are made.
	Stage  events.Stage
	Detail string
	// Config marks a loader's config: GRUB got as far as asking pixie.
	Config bool
}

// Errors a Generated returns.
var (
	ErrNotGenerated = errors.New("not a generated file")
	ErrProbe        = errors.New("optional file not present")
)

// Recorder records boot events. *events.Hub implements it.
type Recorder interface {
	Record(ctx context.Context, e events.Event)
}

// Config is the server's fixed configuration.
type Config struct {
	// Addr is the IPv4 UDP address to listen on, e.g. "10.0.0.2:69"
	// (":69" when empty). PXE is IPv4-only.
	Addr string
	// Timeout is how long to wait for each ACK before sending again
	// (default 5 s). Retries is how many times a packet is sent before the
	// transfer is given up (default 5).
	Timeout time.Duration
	Retries int
	// GRUBConfigWait is how long after a machine fetched GRUB pixie waits
	// for it to ask for its config before recording that it never did
	// (default 60 s).
	GRUBConfigWait time.Duration
}

// Deps are the server's collaborators. Only Files is required.
type Deps struct {
	Log      *slog.Logger
	Files    Files
	Events   Recorder
	Counters *events.Counters
	// MACFor returns the MAC that proxyDHCP last saw using ip, or "", so a
	// transfer can be attributed to a machine. May be nil.
	MACFor func(ip net.IP) string
	// Generated serves GRUB configs and what they name. May be nil.
	Generated Generated
}

// Server is a read-only TFTP server. Create it with New.
type Server struct {
	cfg   Config
	deps  Deps
	watch *grubWatch
}

// Counter names; see the package documentation.
const (
	counterSent         = "tftp.sent"
	counterTsizeProbe   = "tftp.tsize_probe"
	counterFailed       = "tftp.failed"
	counterRefused      = "tftp.refused"
	counterNotFound     = "tftp.not_found"
	counterError        = "tftp.error"
	counterWriteRefused = "tftp.write_refused"
	counterBadPacket    = "tftp.bad_packet"
)

// New returns a server; it does nothing until Serve or ServeConn.
func New(cfg Config, deps Deps) *Server {
	if cfg.Addr == "" {
		cfg.Addr = ":69"
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Counters == nil {
		deps.Counters = events.NewCounters()
	}
	if cfg.GRUBConfigWait <= 0 {
		cfg.GRUBConfigWait = 60 * time.Second
	}
	s := &Server{cfg: cfg, deps: deps}
	s.watch = newGRUBWatch(cfg.GRUBConfigWait, s.grubNeverAsked)
	return s
}

// Serve listens on the configured address and serves until ctx ends.
func (s *Server) Serve(ctx context.Context) error {
	addr, err := net.ResolveUDPAddr("udp4", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("tftp: address %q: %w", s.cfg.Addr, err)
	}
	conn, err := net.ListenUDP("udp4", addr)
	if err != nil {
		return fmt.Errorf("tftp: listen on %s: %w (another TFTP server running? port 69 needs root or CAP_NET_BIND_SERVICE)", s.cfg.Addr, err)
	}
	return s.ServeConn(ctx, conn)
}

// ServeConn serves requests arriving on conn until ctx ends, then closes
// conn and waits for transfers in progress: those sending data stop at
// their next block, one waiting for an ACK gives up after its retries. It
// returns nil when stopped by ctx. Tests pass a loopback conn on port 0
// and read the port from conn.LocalAddr.
func (s *Server) ServeConn(ctx context.Context, conn net.PacketConn) error {
	srv := tftp.NewServer(
		func(name string, rf io.ReaderFrom) error { return s.read(ctx, name, rf) },
		s.refuseWrite,
	)
	srv.SetHook(hook{s})
	if s.cfg.Timeout > 0 {
		srv.SetTimeout(s.cfg.Timeout)
	}
	if s.cfg.Retries > 0 {
		srv.SetRetries(s.cfg.Retries)
	}
	// pin/tftp caps the block size at the receiving interface's MTU, which
	// it learns from each request's control message, and falls back to 512
	// bytes without one. It asks for control messages only once its Serve
	// runs; asking here, before saying we listen, means a request that
	// arrives in between is not stuck with 512-byte blocks.
	if uc, ok := conn.(*net.UDPConn); ok {
		_ = ipv4.NewPacketConn(uc).SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true) // best effort, as in pin/tftp
	}
	s.deps.Log.Info("TFTP server listening", "addr", conn.LocalAddr().String())

	done := make(chan error, 1)
	go func() { done <- srv.Serve(conn) }()
	select {
	case <-ctx.Done():
		srv.Shutdown() // closes conn, waits for transfers
		<-done
		s.watch.stop()
		return nil
	case err := <-done:
		srv.Shutdown()
		s.watch.stop()
		return fmt.Errorf("tftp: %w", err)
	}
}

// Errors sent to clients: the text of a TFTP error packet. They say no
// more than needed; the log has the details.
var (
	errAccess   = errors.New("access violation")
	errNotFound = errors.New("file not found")
	errInternal = errors.New("cannot read file")
	errReadOnly = errors.New("access violation: read-only server")
)

// read serves one read request.
func (s *Server) read(ctx context.Context, name string, rf io.ReaderFrom) error {
	start := time.Now()
	var ip net.IP
	if ot, ok := rf.(tftp.OutgoingTransfer); ok {
		ip = ot.RemoteAddr().IP
	}
	mac := s.macFor(ip)
	log := s.deps.Log.With("mac", mac, "ip", ip.String())

	if s.deps.Generated != nil {
		g, err := s.deps.Generated.OpenGenerated(ctx, name, ip, mac)
		switch {
		case err == nil:
			defer g.Content.Close()
			if g.MAC != "" {
				mac = g.MAC
				log = s.deps.Log.With("mac", mac, "ip", ip.String())
			}
			if g.Config {
				s.watch.asked(ip.String())
			}
			s.send(ctx, log, rf, start, sendable{
				r: g.Content, name: g.Name, source: g.Source, size: g.Size,
				mac: mac, ip: ip, stage: g.Stage, detail: g.Detail,
			})
			return nil
		case errors.Is(err, ErrProbe):
			s.deps.Counters.Inc(counterNotFound)
			log.Debug("TFTP optional file not present (normal)", "file", quote(name))
			return errNotFound
		case !errors.Is(err, ErrNotGenerated):
			s.deps.Counters.Inc(counterNotFound)
			log.Warn("TFTP file not served", "file", quote(name), "err", err)
			return errNotFound
		}
	}
	f, err := s.deps.Files.Open(name)
	if err != nil {
		return s.openFailed(log, name, err)
	}
	defer f.Close()
	sent := s.send(ctx, log, rf, start, sendable{
		r: f, name: f.Name(), source: f.Source(), size: f.Size(), mac: mac, ip: ip,
		arch: arch(f.Name()), stage: events.StageTFTP,
		detail:   fmt.Sprintf("%s %%d bytes from %s", f.Name(), f.Source()),
		firmware: true,
	})
	if k, _ := firmware.KindOf(f.Name()); sent && k == firmware.KindGRUB {
		s.watch.fetched(ip.String(), mac, f.Name())
	}
	return nil
}

// openFailed logs and counts a request that cannot be served and returns
// the error whose text pin/tftp sends to the client.
func (s *Server) openFailed(log *slog.Logger, name string, err error) error {
	switch {
	case errors.Is(err, firmware.ErrRefused):
		s.deps.Counters.Inc(counterRefused)
		reason := err.Error()
		if re, ok := errors.AsType[*firmware.RefusedError](err); ok {
			reason = re.Reason
		}
		log.Warn("TFTP request refused", "file", quote(name), "reason", reason)
		return errAccess
	case errors.Is(err, firmware.ErrNotFound) && firmware.Optional(name):
		// shim asks for these on every boot; most servers have none.
		s.deps.Counters.Inc(counterNotFound)
		log.Debug("TFTP optional file not present (normal)", "file", quote(name))
		return errNotFound
	case errors.Is(err, firmware.ErrNotFound):
		s.deps.Counters.Inc(counterNotFound)
		log.Warn("TFTP file not found", "file", quote(name))
		return errNotFound
	default:
		s.deps.Counters.Inc(counterError)
		log.Error("TFTP file cannot be read", "file", quote(name), "err", err)
		return errInternal
	}
}

// refuseWrite answers every write request: pixie never accepts files over
// the network.
func (s *Server) refuseWrite(name string, wt io.WriterTo) error {
	var ip net.IP
	if it, ok := wt.(tftp.IncomingTransfer); ok {
		ip = it.RemoteAddr().IP
	}
	s.deps.Counters.Inc(counterWriteRefused)
	s.deps.Log.Warn("TFTP write request refused", "mac", s.macFor(ip), "ip", ip.String(), "file", quote(name))
	return errReadOnly
}

func (s *Server) macFor(ip net.IP) string {
	if s.deps.MACFor == nil || ip == nil {
		return ""
	}
	return s.deps.MACFor(ip)
}

func (s *Server) record(ctx context.Context, e events.Event) {
	if s.deps.Events != nil {
		// Record even while shutting down: the transfer happened.
		s.deps.Events.Record(context.WithoutCancel(ctx), e)
	}
}

func arch(name string) string {
	a, _ := firmware.ArchOf(name)
	return string(a)
}

// quote makes a client's name safe to log whatever the log handler does
// with it: quoted, and cut short if it is long.
func quote(name string) string {
	const max = 80
	if len(name) > max {
		return strconv.Quote(name[:max]) + "… (" + strconv.Itoa(len(name)) + " bytes)"
	}
	return strconv.Quote(name)
}

// hook sees failures pin/tftp has no handler for: packets on the server
// port that are not a valid request. Transfer outcomes are logged by read.
type hook struct{ s *Server }

func (hook) OnSuccess(tftp.TransferStats) {}

func (h hook) OnFailure(st tftp.TransferStats, err error) {
	if st.RemoteAddr != nil {
		return // a transfer's failure: read or refuseWrite reports it
	}
	h.s.deps.Counters.Inc(counterBadPacket)
	h.s.deps.Log.Debug("TFTP packet ignored", "err", err)
}
