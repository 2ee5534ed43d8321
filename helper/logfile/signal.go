package logfile

import (
	"context"
	"os"
	"os/signal"
)

// ReopenOn opens l again each time the process receives one of sigs (the
// daemon passes SIGHUP, newsyslog's default signal), until ctx ends. done
// is told the outcome of each reopen: nil, or why the old file is still
// the one written. It returns at once; the signals are handled by a
// goroutine of its own.
func ReopenOn(ctx context.Context, l *File, done func(error), sigs ...os.Signal) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	Follow(ctx, l, ch, done)
}

// Follow is ReopenOn with the signals already asked for on ch (so a
// program can take them before it writes the pid file a rotator reads,
// and start following once its logger exists). It stops the signals on
// ch when ctx ends.
func Follow(ctx context.Context, l *File, ch chan os.Signal, done func(error)) {
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
				done(l.Reopen())
			}
		}
	}()
}
