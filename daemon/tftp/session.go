package tftp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// session is one read transfer on its own socket: the OACK if options
// were negotiated, then the file in windows of blocks.
//
// The file is read one window ahead: while the client is busy with the
// blocks in flight, the next ones are read into the other half of the
// ring, so an ACK is answered with one send and nothing else. The ring is
// allocated once per transfer (2 × window × (4 + blksize) bytes, bounded
// by maxWindowBytes); nothing is allocated per block.
type session struct {
	c       transferConn
	src     io.Reader
	p       params
	timeout time.Duration
	retries int

	w       window
	ring    []byte    // nslots packets of 4+blksize bytes
	lens    []int     // each slot's packet length
	read    uint64    // highest block read from src
	lastLen int       // payload bytes of the final block
	rbuf    [516]byte // replies: ACKs and ERRORs are short
}

// outcome is how a transfer ended.
type outcome struct {
	bytes int64 // payload the client acknowledged
	// local is set when pixie's side stopped the transfer: shutdown, or
	// the file could not be read. Otherwise err is the client's error,
	// its silence or its vanishing; nil when the file arrived whole.
	local error
	err   error
}

// clientError is an ERROR packet the client sent.
type clientError struct {
	code uint16
	msg  string
}

func (e clientError) Error() string {
	return fmt.Sprintf("client sent error %d %q", e.code, e.msg)
}

func newSession(c transferConn, src io.Reader, p params, timeout time.Duration, retries int) *session {
	nslots := 2 * p.window
	return &session{
		c: c, src: src, p: p, timeout: timeout, retries: retries,
		w:    window{size: uint64(p.window)},
		ring: make([]byte, nslots*(4+p.blksize)),
		lens: make([]int, nslots),
	}
}

// run performs the transfer.
func (s *session) run(ctx context.Context) outcome {
	if len(s.p.oack) > 0 {
		if o, ok := s.negotiate(ctx); !ok {
			return o
		}
	}
	if err := s.sendSpan(s.w.start()); err != nil {
		return s.end(err)
	}
	tries := 1
	for {
		deadline := time.Now().Add(s.timeout)
		for {
			r, err := s.next(ctx, deadline)
			if errors.Is(err, errWait) {
				break // timed out
			}
			if err != nil {
				return s.end(err)
			}
			if r.op == opERROR {
				return s.end(clientError{r.code, r.msg})
			}
			sp, done, progress := s.w.ack(r.block)
			if done {
				return outcome{bytes: s.acked()}
			}
			if progress {
				tries = 1
			}
			if sp.from != 0 {
				if err := s.sendSpan(sp); err != nil {
					return s.end(err)
				}
				deadline = time.Now().Add(s.timeout)
			}
		}
		if tries >= s.retries {
			return s.end(fmt.Errorf("no ACK after sending block %d %d times, %s apart", s.w.acked+1, tries, s.timeout))
		}
		tries++
		if err := s.sendSpan(s.w.timeout()); err != nil {
			return s.end(err)
		}
	}
}

// negotiate sends the OACK until the client acknowledges it with ACK 0.
// A client that answers with an error, or not at all, ends the transfer
// here: that is the firmware's size probe.
func (s *session) negotiate(ctx context.Context) (outcome, bool) {
	oack := oackPacket(s.p.oack)
	for tries := 1; ; tries++ {
		if err := s.c.send(oack); err != nil {
			return s.end(err), false
		}
		deadline := time.Now().Add(s.timeout)
		for {
			r, err := s.next(ctx, deadline)
			if errors.Is(err, errWait) {
				break
			}
			if err != nil {
				return s.end(err), false
			}
			if r.op == opERROR {
				return s.end(clientError{r.code, r.msg}), false
			}
			if r.block == 0 {
				return outcome{}, true
			}
		}
		if tries >= s.retries {
			return s.end(fmt.Errorf("no ACK of the option acknowledgement after %d tries, %s apart", tries, s.timeout)), false
		}
	}
}

// errStopped is a transfer stopped because the server is shutting down.
var errStopped = errors.New("server shutting down")

// next waits for the client's next ACK or ERROR until deadline (then
// errWait). Garbage is skipped.
func (s *session) next(ctx context.Context, deadline time.Time) (reply, error) {
	for {
		n, err := s.c.recv(s.rbuf[:])
		if ctx.Err() != nil {
			return reply{}, localError{errStopped}
		}
		if errors.Is(err, errWait) {
			if time.Now().After(deadline) {
				return reply{}, errWait
			}
			continue
		}
		if err != nil {
			return reply{}, fmt.Errorf("client unreachable: %w", err)
		}
		if r, ok := parseReply(s.rbuf[:n]); ok {
			return r, nil
		}
	}
}

// localError marks an error of pixie's side.
type localError struct{ err error }

func (e localError) Error() string { return e.err.Error() }
func (e localError) Unwrap() error { return e.err }

// end turns an error into an outcome and tells the client when the
// failure is pixie's (a client that erred or vanished needs no answer).
func (s *session) end(err error) outcome {
	o := outcome{bytes: s.acked(), err: err}
	if le, ok := errors.AsType[localError](err); ok {
		o.local = le.err
		msg := errInternal.Error()
		if errors.Is(le.err, errStopped) {
			msg = errStopped.Error()
		}
		_ = s.c.send(errorPacket(codeUndefined, msg)) // best effort: we are giving up anyway
	}
	return o
}

// acked is the payload the client has acknowledged.
func (s *session) acked() int64 {
	if s.w.last != 0 && s.w.acked == s.w.last {
		return int64(s.w.last-1)*int64(s.p.blksize) + int64(s.lastLen)
	}
	return int64(s.w.acked) * int64(s.p.blksize)
}

// sendSpan sends the blocks of sp, then reads the next window ahead.
func (s *session) sendSpan(sp span) error {
	for k := sp.from; sp.from != 0 && k <= sp.to; k++ {
		if err := s.fill(k); err != nil {
			return err
		}
		if s.w.last != 0 && k > s.w.last {
			break
		}
		i := s.slot(k)
		pkt := s.packet(i)
		putDataHeader(pkt, uint16(k))
		if err := s.c.send(pkt[:s.lens[i]]); err != nil {
			return fmt.Errorf("client unreachable: %w", err)
		}
	}
	return s.fill(s.w.acked + 2*s.w.size)
}

// fill reads blocks from the file up to block k (or its end). Slots of
// blocks the client has not acknowledged are never overwritten: the ring
// holds 2 windows and k is at most acked + 2 windows.
func (s *session) fill(k uint64) error {
	for s.read < k && (s.w.last == 0 || s.read < s.w.last) {
		b := s.read + 1
		i := s.slot(b)
		n, err := io.ReadFull(s.src, s.packet(i)[4:])
		switch {
		case err == nil:
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			s.lastLen = n
			s.w.setLast(b)
		default:
			return localError{err}
		}
		s.lens[i] = 4 + n
		s.read = b
	}
	return nil
}

func (s *session) slot(k uint64) int { return int((k - 1) % uint64(len(s.lens))) }

func (s *session) packet(i int) []byte {
	size := 4 + s.p.blksize
	return s.ring[i*size : (i+1)*size]
}
