package httpboot

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/pixie-boot/pixie/daemon/hwaddr"
)

// guard refuses, before routing, a request whose path has a "." or ".."
// segment (also spelled %2e%2e) or an empty segment inside it ("//").
// ServeMux would answer such a path with a redirect to its cleaned form,
// which is safe but silent; a traversal attempt is logged and counted like
// every other refused path instead. No URL pixie hands out has such a
// segment: asset paths are checked with fs.ValidPath when stored.
//
// One empty segment is mended instead: shim started by UEFI HTTP boot asks
// for its second stage at the directory of its own URL, a "/" and its
// loader name, which itself starts with one ("\\grubx64.efi"), so
// /firmware/shimx64.efi is followed by /firmware//grubx64.efi.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = shimNextStage(r)
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

// shimNextStage turns shim's /firmware//NAME into /firmware/NAME (see
// guard) when NAME is a single segment as sent (an encoded "/" in it does
// not count as one); the result is checked like any other path. Any other
// request is returned as it is.
func shimNextStage(r *http.Request) *http.Request {
	const dir = "/firmware/"
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), dir+"/")
	if !ok || rest == "" || strings.Contains(rest, "/") {
		return r
	}
	name, err := url.PathUnescape(rest)
	if err != nil || strings.Contains(name, "/") {
		return r
	}
	u := *r.URL
	u.Path, u.RawPath = dir+name, dir+rest
	r2 := new(http.Request)
	*r2 = *r
	r2.URL = &u
	return r2
}
