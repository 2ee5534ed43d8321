package tftp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/pin/tftp/v3"

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
func (s *Server) send(ctx context.Context, log *slog.Logger, rf io.ReaderFrom, start time.Time, f sendable) bool {
	if ot, ok := rf.(tftp.OutgoingTransfer); ok {
		ot.SetSize(f.size) // answers the tsize option
	}
	r := &transferReader{ctx: ctx, r: f.r}
	n, err := rf.ReadFrom(r)
	took := time.Since(start).Round(time.Millisecond)
	log = log.With("file", f.name, "bytes", n, "duration", took.String(), "source", f.source)
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
	case r.err != nil:
		// Our side stopped it: shutdown, or the file could not be read.
		s.deps.Counters.Inc(counterFailed)
		log.Warn("TFTP transfer stopped", "err", r.err)
	case n == 0 && f.size > 0:
		// The client ended the transfer before the first data block:
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
	// ReadFrom has already told the client about any failure.
	return err == nil
}

// transferReader feeds a transfer and stops it when the server shuts
// down. It is deliberately not an io.Seeker: the size comes from SetSize.
type transferReader struct {
	ctx context.Context
	r   io.Reader
	err error // why the server side stopped, if it did
}

func (t *transferReader) Read(p []byte) (int, error) {
	if err := t.ctx.Err(); err != nil {
		t.err = fmt.Errorf("server shutting down: %w", err)
		return 0, t.err
	}
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		t.err = err
	}
	return n, err
}
