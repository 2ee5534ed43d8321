package tftp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/pixie-boot/pixie/daemon/events"
)

// sendable is one file on its way to a client.
type sendable struct {
	r            io.Reader
	name, source string
	size         int64
	mac          string
	ip           net.IP
	arch         string
	stage        events.Stage // recorded on success; "" for none
	detail       string       // for firmware, with %d for the bytes sent
	firmware     bool
}

// send transfers one file, then logs, counts and records how it went. It
// reports whether the whole file was sent.
func (s *Server) send(ctx context.Context, log *slog.Logger, c transferConn, req request, in incoming, start time.Time, f sendable) bool {
	var src io.Reader = &transferReader{ctx: ctx, r: f.r}
	size := f.size
	if req.mode == "netascii" {
		// Line ends change on the wire, so the size on disk is not the
		// size sent: no tsize.
		src, size = newNetascii(src), -1
	}
	p := negotiate(req, in.mtuBlksize, size)
	timeout := s.timeout()
	if p.timeout > 0 {
		timeout = p.timeout
	}
	o := newSession(c, src, p, timeout, s.retries()).run(ctx)
	if in.release != nil {
		in.release()
	}
	n, err := o.bytes, o.err
	took := time.Since(start).Round(time.Millisecond)
	log = log.With("file", f.name, "bytes", n, "duration", took.String(), "source", f.source)
	if p.blksize != defaultBlksize || p.window != 1 {
		log = log.With("blksize", p.blksize, "windowsize", p.window)
	}
	switch {
	case err == nil:
		s.deps.Counters.Inc(counterSent)
		log.Info("TFTP transfer complete")
		if f.stage != "" {
			detail := f.detail
			if f.firmware {
				detail = fmt.Sprintf(detail, n)
			}
			s.record(ctx, events.Event{MAC: f.mac, IP: f.ip.String(), Arch: f.arch, Stage: f.stage, Detail: detail})
		}
	case o.local != nil:
		// Our side stopped it: shutdown, or the file could not be read.
		s.deps.Counters.Inc(counterFailed)
		log.Warn("TFTP transfer stopped", "err", o.local)
	case n == 0 && f.size > 0:
		// The client ended the transfer before acknowledging any data:
		// the firmware's size probe (tsize, then error 8), or a client
		// that went quiet after the option ACK. Normal; not an error.
		s.deps.Counters.Inc(counterTsizeProbe)
		log.Debug("TFTP size probe ended by client", "size", f.size, "err", err)
	default:
		s.deps.Counters.Inc(counterFailed)
		log.Warn("TFTP transfer failed", "size", f.size, "err", err)
		s.record(ctx, events.Event{
			MAC: f.mac, IP: f.ip.String(), Arch: f.arch, Stage: events.StageError,
			Detail: fmt.Sprintf("TFTP %s broke off after %d of %d bytes: %v", f.name, n, f.size, err),
		})
	}
	return err == nil
}

// transferReader feeds a transfer and stops it when the server shuts
// down.
type transferReader struct {
	ctx context.Context
	r   io.Reader
}

func (t *transferReader) Read(p []byte) (int, error) {
	if err := t.ctx.Err(); err != nil {
		return 0, fmt.Errorf("%w: %w", errStopped, err)
	}
	return t.r.Read(p)
}
