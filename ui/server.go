// Package ui is pixie's web dashboard: a small HTTP server that `pixie ui`
// runs as the calling user, on loopback only, in front of the daemon's
// control socket.
//
// The page is a thin client like the CLI and the tray: every request it
// makes goes to the control API through this server's proxy (/api/v1/...
// becomes /v1/... on the socket), so the socket's peer-credential rule
// still decides who may act — the dashboard can do exactly what its user
// could do with the CLI, and nothing more.
//
// Being a local admin page, it is guarded against the browser's other
// tabs: a one-time login token (printed by `pixie ui`) becomes a session
// cookie (HttpOnly, SameSite=Strict); every change carries a CSRF token
// the page read from its own HTML; the Host header must name the loopback
// address it listens on (DNS rebinding); there are no CORS headers; and
// the Content-Security-Policy allows no inline script and nothing from
// another origin.
package ui

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/pixie-boot/pixie/daemon/api"
)

// CookieName is the session cookie's name.
const CookieName = "pixie_ui_session"

// CSRFHeader carries the page's CSRF token on every change it asks for.
const CSRFHeader = "X-Pixie-CSRF"

// contentSecurityPolicy: the page's own scripts, styles and connections
// only; no inline script, no frames, no plugins.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Config is what a Server works with.
type Config struct {
	// Socket is the daemon's control socket.
	Socket string
	// Addr is the loopback address the server listens on, host:port as
	// the browser will write it (127.0.0.1:PORT or [::1]:PORT); the Host
	// header must name it (or localhost:PORT).
	Addr string
	Log  *slog.Logger
}

// Server serves the dashboard and proxies its API calls to the socket.
type Server struct {
	cfg   Config
	hosts map[string]bool
	proxy *httputil.ReverseProxy
	log   *slog.Logger

	mu sync.Mutex
	// logins are the unused one-time login tokens, each with the page it
	// opens; sessions the signed-in browsers' cookies, each with its CSRF
	// token. Both are few: the oldest go first past maxTokens.
	logins   []login
	sessions []session
}

type login struct{ token, next string }

type session struct{ cookie, csrf string }

// maxTokens bounds the unused login links and the signed-in browsers.
const maxTokens = 8

// New returns a server with a fresh one-time login token.
func New(cfg Config) (*Server, error) {
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("dashboard address %q: %w", cfg.Addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("dashboard address %s is not a loopback address: the page listens on this computer only (from another one, use `ssh -L`)", cfg.Addr)
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: log, hosts: map[string]bool{
		strings.ToLower(net.JoinHostPort(host, port)): true,
		"localhost:" + port:                           true,
	}}
	s.proxy = s.newProxy()
	return s, nil
}

// LoginURL returns a new one-time link that signs the browser following
// it in and opens the dashboard, at mac's timeline when mac is a MAC
// address: what `pixie ui` prints and the tray opens.
func (s *Server) LoginURL(mac string) (string, error) {
	token, err := randomToken()
	if err != nil {
		return "", err
	}
	next := "/"
	if hw, err := net.ParseMAC(mac); err == nil && len(hw) == 6 {
		next = "/#timeline=" + hw.String()
	}
	s.mu.Lock()
	s.logins = append(s.logins, login{token, next})
	if len(s.logins) > maxTokens {
		s.logins = s.logins[1:]
	}
	s.mu.Unlock()
	return "http://" + s.cfg.Addr + "/login?token=" + url.QueryEscape(token), nil
}

// Serve serves the dashboard on ln until ctx ends, then closes it
// (open event streams are cut, not waited for). It returns nil after ctx
// ends, else why serving stopped.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = hs.Shutdown(shut)
	hs.Close()
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Handler serves the dashboard.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", s.login)
	mux.Handle("/api/", s.signedIn(http.HandlerFunc(s.api)))
	// The page's script and styles hold nothing secret; the sign-in pages
	// use them too.
	mux.Handle("GET /static/", staticHandler())
	mux.Handle("GET /{$}", s.signedIn(http.HandlerFunc(s.index)))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such page on the pixie dashboard", http.StatusNotFound)
	})
	return s.guard(mux)
}

// guard applies to every request: the Host check, no CORS, and the
// headers that keep the page to itself.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		if !s.hosts[strings.ToLower(r.Host)] {
			// Another name resolving to 127.0.0.1 (DNS rebinding) gets
			// nothing, whatever cookie it might carry.
			s.log.Warn("dashboard: request for another host refused", "host", r.Host, "path", r.URL.Path)
			http.Error(w, fmt.Sprintf("this pixie dashboard answers only as http://%s/", s.cfg.Addr), http.StatusMisdirectedRequest)
			return
		}
		if r.Method == http.MethodOptions {
			// No CORS: a preflight from another origin gets no allowance.
			http.Error(w, "the pixie dashboard takes no cross-origin requests", http.StatusMethodNotAllowed)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// login turns a one-time token into a session cookie.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	given := r.URL.Query().Get("token")
	cookie, err := randomToken()
	csrf, err2 := randomToken()
	if err != nil || err2 != nil {
		http.Error(w, "pixie could not start a session: no randomness", http.StatusInternalServerError)
		return
	}
	next, ok := "", false
	s.mu.Lock()
	for i, l := range s.logins {
		if given != "" && subtle.ConstantTimeCompare([]byte(given), []byte(l.token)) == 1 {
			next, ok = l.next, true
			s.logins = append(s.logins[:i:i], s.logins[i+1:]...)
			s.sessions = append(s.sessions, session{cookie, csrf})
			if len(s.sessions) > maxTokens {
				s.sessions = s.sessions[1:]
			}
			break
		}
	}
	s.mu.Unlock()
	if !ok {
		s.log.Warn("dashboard: login with a wrong or used token refused", "remote", r.RemoteAddr)
		page(w, http.StatusForbidden, "This login link was used already, or is not right",
			"Each link that <code>pixie ui</code> prints signs one browser in, once. Stop <code>pixie ui</code> (Ctrl-C) and run it again for a new link.")
		return
	}
	s.log.Info("dashboard: browser signed in", "remote", r.RemoteAddr)
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: cookie, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	// The token leaves the address bar and the history.
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// sessionOf returns the request's session, if its cookie names one.
func (s *Server) sessionOf(r *http.Request) (session, bool) {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return session{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ss := range s.sessions {
		if subtle.ConstantTimeCompare([]byte(c.Value), []byte(ss.cookie)) == 1 {
			return ss, true
		}
	}
	return session{}, false
}

// signedIn lets through requests carrying a session cookie.
func (s *Server) signedIn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := s.sessionOf(r); !ok {
			if strings.HasPrefix(r.URL.Path, "/api/") {
				writeAPIError(w, http.StatusUnauthorized, "not_signed_in", "this browser is not signed in to the pixie dashboard: open the link `pixie ui` printed")
				return
			}
			page(w, http.StatusUnauthorized, "Not signed in",
				"Open the link that <code>pixie ui</code> printed in its terminal. If it was used already, stop <code>pixie ui</code> and run it again for a new one.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// api checks a change's CSRF token and the request's origin, then hands
// it to the control socket.
func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		writeAPIError(w, http.StatusForbidden, "cross_site", "the pixie dashboard takes API calls from its own page only")
		return
	}
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
		writeAPIError(w, http.StatusForbidden, "cross_site", "the pixie dashboard takes API calls from its own page only (origin "+o+")")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		ss, _ := s.sessionOf(r)
		if got := r.Header.Get(CSRFHeader); got == "" || ss.csrf == "" || subtle.ConstantTimeCompare([]byte(got), []byte(ss.csrf)) != 1 {
			s.log.Warn("dashboard: change without the page's CSRF token refused", "method", r.Method, "path", r.URL.Path)
			writeAPIError(w, http.StatusForbidden, "csrf", "this change did not come from the dashboard page (no CSRF token): reload the page and try again")
			return
		}
	}
	if !strings.HasPrefix(r.URL.Path, "/api/v1/") {
		writeAPIError(w, http.StatusNotFound, api.CodeNotFound, "the dashboard's API is under /api/v1/")
		return
	}
	s.proxy.ServeHTTP(w, r)
}

// newProxy forwards /api/v1/... to /v1/... on the control socket, with
// nothing of the browser's credentials: the socket knows this process's
// user by its peer credentials.
func (s *Server) newProxy() *httputil.ReverseProxy {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", s.cfg.Socket)
		},
		DisableCompression: true,
		IdleConnTimeout:    30 * time.Second,
	}
	return &httputil.ReverseProxy{
		Transport:     tr,
		FlushInterval: -1, // the event stream goes out as it comes
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", "pixie"
			pr.Out.URL.Path = strings.TrimPrefix(pr.In.URL.Path, "/api")
			pr.Out.URL.RawPath = ""
			pr.Out.Host = "pixie"
			for _, h := range []string{"Cookie", CSRFHeader, "Origin", "Referer", "Authorization"} {
				pr.Out.Header.Del(h)
			}
		},
		ModifyResponse: func(resp *http.Response) error {
			for k := range resp.Header {
				if strings.HasPrefix(k, "Access-Control-") {
					resp.Header.Del(k)
				}
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) {
				return // the page went away (a closed event stream)
			}
			s.log.Warn("dashboard: the pixie daemon did not answer", "path", r.URL.Path, "err", err)
			writeAPIError(w, http.StatusBadGateway, "daemon_unreachable",
				fmt.Sprintf("the pixie daemon is not answering on %s: start it with `sudo pixie start` (or `sudo pixie serve`); the page retries by itself", s.cfg.Socket))
		},
	}
}

func writeAPIError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(api.Error{Code: code, Message: msg})
}

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("no randomness for the dashboard's tokens: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
