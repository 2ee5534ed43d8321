package control

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// shutdownKey carries a channel closed when Serve is stopping, so event
// streams end at once instead of holding the shutdown up.
type shutdownKey struct{}

// Serve answers API requests on ln until ctx is cancelled, then shuts down:
// event streams end at once, other requests get a few seconds to finish.
// It returns nil after a shutdown caused by ctx.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	socket := ln.Addr().String()
	stopping := make(chan struct{})
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// No WriteTimeout: event streams are long-lived.
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext: func(net.Listener) context.Context {
			// Requests are not cancelled by ctx (a write in progress
			// finishes); streams watch stopping instead.
			return context.WithValue(context.WithoutCancel(ctx), shutdownKey{}, (<-chan struct{})(stopping))
		},
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return withCaller(ctx, s.identify(c, socket))
		},
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	close(stopping)
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		s.log.Warn("control API did not stop in time; closing its connections", "err", err)
		srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// stoppingFrom returns the channel closed when Serve shuts down (nil, which
// never fires, outside Serve).
func stoppingFrom(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(shutdownKey{}).(<-chan struct{})
	return ch
}
