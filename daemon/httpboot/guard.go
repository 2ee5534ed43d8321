package httpboot

import (
	"net/http"
	"strings"

	"github.com/pixie-boot/pixie/daemon/hwaddr"
)

// guard refuses, before routing, a request whose path has a "." or ".."
// segment (also spelled %2e%2e) or an empty segment inside it ("//").
// ServeMux would answer such a path with a redirect to its cleaned form,
// which is safe but silent; a traversal attempt is logged and counted like
// every other refused path instead. No URL pixie hands out has such a
// segment: asset paths are checked with fs.ValidPath when stored.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if why := uncleanPath(r.URL.Path); why != "" {
			mac, _ := hwaddr.Parse(r.URL.Query().Get("mac"))
			s.refuse(w, mac, clientIP(r), r.URL.Path, why)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// uncleanPath says what is wrong with a request path that is not already
// clean, or "" if it is.
func uncleanPath(p string) string {
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		switch {
		case seg == "." || seg == "..":
			return "dot segment in path"
		case seg == "" && i > 0 && i < len(segs)-1:
			return "empty segment in path (//)"
		}
	}
	return ""
}
