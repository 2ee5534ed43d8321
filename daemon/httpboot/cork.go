package httpboot

import (
	"context"
	"net"
)

// connKey is the request-context key of the connection a request came in
// on (see ConnContext).
type connKey struct{}

// ConnContext is for http.Server.ConnContext: it keeps each connection in
// its requests' context, so that an image download can cork it (see
// corkConn).
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// corkRequest corks the connection of r's context, if it has one, and
// returns the function that uncorks it.
func corkRequest(ctx context.Context) (uncork func()) {
	tc, ok := ctx.Value(connKey{}).(*net.TCPConn)
	if !ok || !corkConn(tc, true) {
		return func() {}
	}
	return func() { corkConn(tc, false) }
}
