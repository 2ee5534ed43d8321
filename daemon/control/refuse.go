package control

import (
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"

	"github.com/pixie-boot/pixie/daemon/api"
)

// noBody refuses a request with a body to an endpoint that takes none
// (pause, resume, the DELETEs) before anything changes. A caller sending a
// body meant something the endpoint does not do; going ahead and ignoring it
// would delete or pause on a garbled or hostile request.
func noBody(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > api.MaxBodyBytes {
			writeError(w, http.StatusRequestEntityTooLarge, api.CodeBadRequest,
				fmt.Sprintf("request body is larger than %d KiB, and %s %s takes no body", api.MaxBodyBytes>>10, r.Method, r.URL.Path))
			return
		}
		var one [1]byte
		if n, _ := io.ReadAtLeast(r.Body, one[:], 1); n > 0 {
			writeError(w, http.StatusBadRequest, api.CodeBadRequest, r.Method+" "+r.URL.Path+" takes no request body")
			return
		}
		next(w, r)
	}
}

// cleanPaths answers a request whose path is not clean ("..", ".", "//")
// with the API's JSON 404 instead of letting ServeMux redirect it to the
// cleaned path with an HTML body: no client of this API sends such paths,
// and every answer stays JSON.
func cleanPaths(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p != "/" && path.Clean(p) != strings.TrimSuffix(p, "/") {
			writeError(w, http.StatusNotFound, api.CodeNotFound, "no such control API endpoint: "+r.Method+" "+p+" (the path is not clean)")
			return
		}
		next.ServeHTTP(w, r)
	})
}
