// Package tftp is pixie's read-only TFTP server: it sends the iPXE
// first-stage file that proxyDHCP pointed a PXE client at, and nothing
// else. It speaks RFC 1350 with the option extension (RFC 2347): blksize
// (RFC 2348, capped to the receiving interface's MTU), tsize and timeout
// (RFC 2349) and windowsize (RFC 7440, capped at maxWindow blocks and
// maxWindowBytes). Each transfer gets its own socket, as RFC 1350 intends.
//
// The protocol is pixie's own code rather than github.com/pin/tftp's
// server: pin/tftp has no RFC 7440 window (its "anticipate" mode sends
// ahead without the client asking), and a lock-step transfer through Go's
// netpoller costs more per block than in.tftpd's blocking read (see
// udpconn.go). The decisions are pure (packet.go, options.go, window.go);
// session.go does the I/O of one transfer.
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
//	tftp.busy           a request dropped: maxTransfers in progress
//
// Refusals carry the RFC 1350 error code: 1 file not found, 2 access
// violation (traversal, writes), 0 for a file that cannot be read.
package tftp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"time"

	"sync"
	"sync/atomic"

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
	cfg    Config
	deps   Deps
	watch  *grubWatch
	active atomic.Int32 // transfers in progress
	// blockingMax is how many transfers at once read in blocking mode;
	// maxActive is how many run at once (maxTransfers).
	blockingMax, maxActive int32
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
	counterBusy         = "tftp.busy"
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
	s := &Server{cfg: cfg, deps: deps, blockingMax: int32(max(1, runtime.GOMAXPROCS(0)/2)), maxActive: maxTransfers}
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
// conn and waits for transfers in progress, which stop at their next
// packet or within recvSlice. It returns nil when stopped by ctx. Tests
// pass a loopback conn on port 0 and read the port from conn.LocalAddr.
func (s *Server) ServeConn(ctx context.Context, conn net.PacketConn) error {
	l := newListener(conn)
	s.deps.Log.Info("TFTP server listening", "addr", conn.LocalAddr().String())

	var wg sync.WaitGroup
	defer wg.Wait()
	defer s.watch.stop()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	buf := make([]byte, maxRequestLength)
	for {
		in, err := l.read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			conn.Close()
			return fmt.Errorf("tftp: reading requests: %w", err)
		}
		req, err := parseRequest(buf[:in.n])
		if err != nil {
			s.deps.Counters.Inc(counterBadPacket)
			s.deps.Log.Debug("TFTP packet ignored", "ip", in.from.IP.String(), "err", err)
			continue
		}
		n := s.active.Add(1)
		if n > s.maxActive {
			// A flood of requests must not become a flood of sockets
			// and goroutines; a real client asks again.
			s.active.Add(-1)
			s.deps.Counters.Inc(counterBusy)
			s.deps.Log.Debug("TFTP request dropped: too many transfers at once", "ip", in.from.IP.String(), "file", quote(req.name), "max", s.maxActive)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.handle(ctx, req, in, n)
		}()
	}
}

// maxTransfers bounds the transfers in progress at once.
const maxTransfers = 2048

// handle answers one request from a socket of its own (RFC 1350's
// transfer ID). It is the nth transfer in progress, already counted in
// s.active.
func (s *Server) handle(ctx context.Context, req request, in incoming, n int32) {
	timeout := s.timeout()
	// A transfer that has a processor to itself waits for its ACKs in
	// a blocking read; with more transfers than that, blocked threads
	// would hand processors back and forth on every ACK, and the
	// netpoller, which wakes many waiters at once, costs less (bench/
	// tftp.sh: server CPU time per case).
	// A client fetching files one after the other sends its next
	// request as soon as it ACKed the last block: the count drops when
	// the packets are done, not after the logging and the event.
	blocking := n <= s.blockingMax
	in.release = sync.OnceFunc(func() { s.active.Add(-1) })
	defer in.release()
	dial := func(l net.IP) (transferConn, error) {
		if blocking {
			return dialBlocking(l, in.from, min(timeout, recvSlice))
		}
		return dialPoll(l, in.from, min(timeout, recvSlice))
	}
	c, err := dial(in.local)
	if err != nil && in.local != nil {
		// sent to an address we cannot send from (a subnet broadcast)
		c, err = dial(nil)
	}
	if err != nil {
		s.deps.Counters.Inc(counterError)
		s.deps.Log.Error("TFTP request not answered: cannot open a socket for it", "mac", s.macFor(in.from.IP), "ip", in.from.IP.String(), "file", quote(req.name), "err", err)
		return
	}
	defer c.close()
	if req.write {
		s.refuseWrite(c, req.name, in.from.IP)
		return
	}
	s.read(ctx, c, req, in)
}

// recvSlice bounds each blocking wait of a transfer, so that one waiting
// for an ACK notices a shutdown soon.
const recvSlice = 250 * time.Millisecond

func (s *Server) timeout() time.Duration {
	if s.cfg.Timeout > 0 {
		return s.cfg.Timeout
	}
	return 5 * time.Second
}

func (s *Server) retries() int {
	if s.cfg.Retries > 0 {
		return s.cfg.Retries
	}
	return 5
}

// wireError is a TFTP error packet's code and text. They say no more
// than needed; the log has the details.
type wireError struct {
	code uint16
	msg  string
}

func (e *wireError) Error() string { return e.msg }

// Errors sent to clients.
var (
	errAccess   = &wireError{codeAccess, "access violation"}
	errNotFound = &wireError{codeNotFound, "file not found"}
	errInternal = &wireError{codeUndefined, "cannot read file"}
	errReadOnly = &wireError{codeAccess, "access violation: read-only server"}
)

// read serves one read request on c.
func (s *Server) read(ctx context.Context, c transferConn, req request, in incoming) {
	start := time.Now()
	ip := in.from.IP
	mac := s.macFor(ip)
	log := s.deps.Log.With("mac", mac, "ip", ip.String())
	refuse := func(e *wireError) { _ = c.send(errorPacket(e.code, e.msg)) } // the client may be gone: nothing to do then

	if s.deps.Generated != nil {
		g, err := s.deps.Generated.OpenGenerated(ctx, req.name, ip, mac)
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
			s.send(ctx, log, c, req, in, start, sendable{
				r: g.Content, name: g.Name, source: g.Source, size: g.Size,
				mac: mac, ip: ip, stage: g.Stage, detail: g.Detail,
			})
			return
		case errors.Is(err, ErrProbe):
			s.deps.Counters.Inc(counterNotFound)
			log.Debug("TFTP optional file not present (normal)", "file", quote(req.name))
			refuse(errNotFound)
			return
		case !errors.Is(err, ErrNotGenerated):
			s.deps.Counters.Inc(counterNotFound)
			log.Warn("TFTP file not served", "file", quote(req.name), "err", err)
			refuse(errNotFound)
			return
		}
	}
	f, err := s.deps.Files.Open(req.name)
	if err != nil {
		refuse(s.openFailed(log, req.name, err))
		return
	}
	defer f.Close()
	sent := s.send(ctx, log, c, req, in, start, sendable{
		r: f, name: f.Name(), source: f.Source(), size: f.Size(), mac: mac, ip: ip,
		arch: arch(f.Name()), stage: events.StageTFTP,
		detail:   fmt.Sprintf("%s %%d bytes from %s", f.Name(), f.Source()),
		firmware: true,
	})
	if k, _ := firmware.KindOf(f.Name()); sent && k == firmware.KindGRUB {
		s.watch.fetched(ip.String(), mac, f.Name())
	}
}

// openFailed logs and counts a request that cannot be served and returns
// the error to send to the client.
func (s *Server) openFailed(log *slog.Logger, name string, err error) *wireError {
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
func (s *Server) refuseWrite(c transferConn, name string, ip net.IP) {
	s.deps.Counters.Inc(counterWriteRefused)
	s.deps.Log.Warn("TFTP write request refused", "mac", s.macFor(ip), "ip", ip.String(), "file", quote(name))
	_ = c.send(errorPacket(errReadOnly.code, errReadOnly.msg)) // best effort
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
