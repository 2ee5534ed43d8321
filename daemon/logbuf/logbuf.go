// Package logbuf batches a daemon's log lines into fewer writes.
//
// Every write(2) a Go program makes tells the runtime a thread may block,
// which wakes the runtime's monitor thread when the process was idle. A
// proxyDHCP server that logs one line per answer therefore paid two thread
// wake-ups per packet, one for the answer and one for its log line. A
// Writer keeps lines for up to an interval (or until enough have gathered)
// and writes them in one call; Handler writes at once whenever a line of
// level Warn or above is logged, so problems are never held back.
package logbuf

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Writer gathers whole writes (slog handlers write a line per call) and
// passes them on in one write per interval. A line that comes after a
// quiet interval is written at once: batching only starts when lines come
// faster than one per interval, so someone reading the log of a quiet
// server never waits. It is safe for concurrent use.
type Writer struct {
	out      io.Writer
	interval time.Duration
	limit    int

	mu        sync.Mutex
	buf       []byte
	scheduled bool
	timer     *time.Timer
	closed    bool
	lastWrite time.Time // of the last write to out
}

// New returns a Writer that flushes to out at most interval after a line
// arrives, or as soon as limit bytes are waiting.
func New(out io.Writer, interval time.Duration, limit int) *Writer {
	w := &Writer{out: out, interval: interval, limit: limit}
	w.timer = time.AfterFunc(time.Hour, func() { w.Flush() })
	w.timer.Stop()
	return w
}

// Write writes p at once after a quiet interval, and otherwise keeps it
// for the next flush. An error writing out a kept line is returned by the
// Flush that meets it (logging has no better place to report it).
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		// After Close (a late line from a goroutine still stopping):
		// write through, nothing will flush it later.
		return w.out.Write(p)
	}
	if !w.scheduled && len(w.buf) == 0 && time.Since(w.lastWrite) >= w.interval {
		w.lastWrite = time.Now()
		return w.out.Write(p)
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) >= w.limit {
		w.flushLocked()
		return len(p), nil
	}
	if !w.scheduled {
		w.scheduled = true
		w.timer.Reset(w.interval)
	}
	return len(p), nil
}

// Flush writes out what is waiting.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

func (w *Writer) flushLocked() error {
	if w.scheduled {
		w.timer.Stop()
		w.scheduled = false
	}
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.out.Write(w.buf)
	w.lastWrite = time.Now()
	// A buffer grown by a burst is not kept for ever.
	if cap(w.buf) > 4*w.limit {
		w.buf = nil
	} else {
		w.buf = w.buf[:0]
	}
	return err
}

// Close flushes and makes later writes go straight through.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.flushLocked()
	w.closed = true
	return err
}

// Handler wraps a handler that writes to w so that a record of level
// Warn or above is written out at once, with the lines before it.
func Handler(h slog.Handler, w *Writer) slog.Handler {
	return urgent{Handler: h, w: w}
}

type urgent struct {
	slog.Handler
	w *Writer
}

func (u urgent) Handle(ctx context.Context, r slog.Record) error {
	err := u.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		if ferr := u.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (u urgent) WithAttrs(attrs []slog.Attr) slog.Handler {
	return urgent{Handler: u.Handler.WithAttrs(attrs), w: u.w}
}

func (u urgent) WithGroup(name string) slog.Handler {
	return urgent{Handler: u.Handler.WithGroup(name), w: u.w}
}
