// Package httpboot serves the HTTP half of the boot chain: the iPXE chain
// script (/boot.ipxe), each machine's boot script (/ipxe), kernels and
// initrds from the asset store (/assets/...), iPXE firmware for UEFI HTTP
// boot clients (/firmware/...) and each machine's Ignition config
// (/ignition).
//
// Every request a booting machine makes is recorded as a boot event with
// its MAC, so the daemon can show how far each machine got.
package httpboot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/hwaddr"
	"github.com/pixie-boot/pixie/daemon/store"
)

// Planner resolves which profile a MAC boots. *store.Store implements it.
type Planner interface {
	PlanBoot(ctx context.Context, mac string) (store.BootPlan, error)
}

// Recorder records boot events. *events.Hub implements it.
type Recorder interface {
	Record(ctx context.Context, e events.Event)
}

// Config is the server's fixed configuration.
type Config struct {
	// ServerURL returns the base URL machines reach pixie at, e.g.
	// "http://10.0.0.2:8080". A function because the address can change
	// while the daemon runs.
	ServerURL func() string
	// RetryDelay is how long a machine waits before trying again after an
	// error script.
	RetryDelay time.Duration
	// TokenTTL is how long a per-boot Ignition token stays valid; 0 means
	// one hour. Tokens are on when Deps.Tokens is set.
	TokenTTL time.Duration
}

// Deps are the server's collaborators.
type Deps struct {
	Log      *slog.Logger
	Store    Planner
	Assets   *os.Root // the image store; every asset path is resolved inside it
	Firmware func(name string) (io.ReadSeekCloser, error)
	Events   Recorder
	Counters *events.Counters
	// Tokens issues and checks per-boot Ignition tokens (*store.Store).
	// nil turns tokens off: /ignition then serves any MAC's config to
	// whoever asks (for debugging only).
	Tokens Tokens
	// MACFor returns the MAC proxyDHCP last saw at an address, or "", so
	// that GRUB's config fetch (which names no machine) is attributed.
	// May be nil.
	MACFor func(ip net.IP) string
}

// Server is the boot HTTP server.
type Server struct {
	cfg  Config
	deps Deps
	mux  *http.ServeMux
}

// New returns a Server; use Handler to serve it.
func New(cfg Config, deps Deps) *Server {
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = 30 * time.Second
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = time.Hour
	}
	s := &Server{cfg: cfg, deps: deps, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /boot.ipxe", s.serveChain)
	s.mux.HandleFunc("GET /ipxe", s.serveMachineScript)
	s.mux.HandleFunc("GET /ignition", s.serveIgnition)
	s.mux.HandleFunc("GET /phone-home", s.servePhoneHome)
	s.mux.HandleFunc("POST /phone-home", s.servePhoneHome)
	s.mux.HandleFunc("GET /assets/{path...}", s.serveAsset)
	s.mux.HandleFunc("GET /firmware/{name}", s.serveFirmware)
	s.mux.HandleFunc("GET /firmware/img/{path...}", s.serveImageLoader) // imageloaders.go
	// GRUB's names: its prefix /grub, Fedora's EFI/fedora, the root
	// (grub.cfg, grub.cfg-01-<mac>), and the kernels and initrds pixie's
	// GRUB configs name.
	s.mux.HandleFunc("GET /grub/{name...}", s.serveGRUBPath)
	s.mux.HandleFunc("GET /EFI/{name...}", s.serveGRUBPath)
	s.mux.HandleFunc("GET /pixie/{name...}", s.serveGRUBPath)
	s.mux.HandleFunc("GET /{name}", s.serveGRUBPath)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	return s
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.guard(s.mux) }

func (s *Server) retrySeconds() int { return int(s.cfg.RetryDelay / time.Second) }

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func writeScript(w http.ResponseWriter, script string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", fmt.Sprint(len(script)))
	io.WriteString(w, script)
}

func (s *Server) serveChain(w http.ResponseWriter, r *http.Request) {
	s.deps.Log.Debug("chain script requested", "ip", clientIP(r))
	writeScript(w, chainScript(s.cfg.ServerURL()))
}

// request collects what iPXE reported about the machine.
func (s *Server) request(r *http.Request) (Request, error) {
	q := r.URL.Query()
	req := Request{
		ServerURL: s.cfg.ServerURL(),
		IP:        clientIP(r),
		UUID:      q.Get("uuid"),
		Arch:      q.Get("arch"),
		Platform:  q.Get("platform"),
		Hostname:  q.Get("hostname"),
	}
	mac, err := hwaddr.Parse(q.Get("mac"))
	if err != nil {
		return req, err
	}
	req.MAC = mac
	return req, nil
}

func (s *Server) serveMachineScript(w http.ResponseWriter, r *http.Request) {
	req, err := s.request(r)
	if err != nil {
		s.deps.Counters.Inc("http.refused.bad_mac")
		s.deps.Log.Warn("boot script requested without a valid MAC", "ip", clientIP(r), "query", r.URL.RawQuery, "err", err)
		writeScript(w, ErrorScript(s.cfg.ServerURL(), []string{
			"this machine did not send a valid MAC address (" + err.Error() + ")",
			"boot it through " + s.cfg.ServerURL() + "/boot.ipxe, which fills the MAC in",
		}, s.retrySeconds()))
		return
	}
	ev := events.Event{MAC: req.MAC, IP: req.IP, Arch: archName(req), Stage: events.StageScript}
	plan, err := s.deps.Store.PlanBoot(r.Context(), req.MAC)
	if err != nil {
		s.fail(w, r, ev, "no profile to boot: "+err.Error(),
			"fix it on the server: `pixie machines set "+req.MAC+" --profile NAME` (see `pixie profiles list`)")
		return
	}
	if missing := s.missingAssets(plan.Profile); len(missing) > 0 {
		lines := []string{}
		for _, m := range missing {
			lines = append(lines, fmt.Sprintf("profile %s needs %s, which is not in pixie's asset store", plan.Profile.Name, m))
		}
		lines = append(lines, "fix it on the server: put the file under the data dir's assets/ folder, or `pixie profiles edit "+plan.Profile.Name+" --kernel PATH --initrd PATH`")
		s.fail(w, r, ev, strings.Join(lines[:len(lines)-1], "; "), lines[len(lines)-1:]...)
		return
	}
	if err := s.issueToken(r.Context(), plan, &req); err != nil {
		s.fail(w, r, ev, "cannot issue an Ignition token: "+err.Error())
		return
	}
	script, err := BootScript(plan, req, s.retrySeconds())
	if err != nil {
		s.fail(w, r, ev, err.Error(), "fix the profile on the server: `pixie profiles edit "+plan.Profile.Name+" --args ...`")
		return
	}
	ev.Detail = "profile " + plan.Profile.Name
	if plan.Default {
		ev.Detail += " (default)"
	}
	s.deps.Log.Info("boot script served", "mac", req.MAC, "ip", req.IP, "profile", plan.Profile.Name, "default", plan.Default, "uuid", req.UUID, "arch", req.Arch, "platform", req.Platform)
	s.deps.Events.Record(r.Context(), ev)
	writeScript(w, script)
}

// fail answers a booting machine with an error script and records why.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, ev events.Event, problem string, fixes ...string) {
	s.deps.Counters.Inc("http.boot_errors")
	s.deps.Log.Warn("cannot boot machine", "mac", ev.MAC, "ip", ev.IP, "problem", problem)
	ev.Stage, ev.Detail = events.StageError, problem
	s.deps.Events.Record(r.Context(), ev)
	writeScript(w, ErrorScript(s.cfg.ServerURL(), append([]string{"cannot boot " + ev.MAC + ": " + problem}, fixes...), s.retrySeconds()))
}

// missingAssets lists the profile's local files that the asset store lacks.
func (s *Server) missingAssets(p store.Profile) []string {
	var missing []string
	for _, ref := range append([]string{p.Kernel}, p.Initrds...) {
		if strings.HasPrefix(ref, "http://") || strings.HasPrefix(ref, "https://") {
			continue
		}
		if s.deps.Assets == nil {
			missing = append(missing, ref)
			continue
		}
		if fi, err := s.deps.Assets.Stat(ref); err != nil || !fi.Mode().IsRegular() {
			missing = append(missing, ref)
		}
	}
	return missing
}

func archName(r Request) string {
	switch {
	case r.Platform == "" && r.Arch == "":
		return ""
	case r.Platform == "pcbios":
		return "bios"
	case r.Platform == "efi" && r.Arch == "x86_64":
		return "efi-x64"
	case r.Platform == "efi" && r.Arch == "arm64":
		return "efi-arm64"
	case r.Platform == "efi" && r.Arch == "i386":
		return "efi-ia32"
	}
	return strings.Trim(r.Platform+"-"+r.Arch, "-")
}

func (s *Server) serveIgnition(w http.ResponseWriter, r *http.Request) {
	req, err := s.request(r)
	if err != nil {
		s.deps.Counters.Inc("http.refused.bad_mac")
		s.deps.Log.Warn("Ignition config requested without a valid MAC", "ip", clientIP(r), "err", err)
		http.Error(w, "pixie: "+err.Error()+": request /ignition?mac=MAC", http.StatusBadRequest)
		return
	}
	ev := events.Event{MAC: req.MAC, IP: req.IP, Arch: eventArch(r), Stage: events.StageIgnition}
	if !s.checkToken(w, r, req, ev, "Ignition config", false) {
		return
	}
	if s.deps.Tokens != nil {
		req.Token = r.URL.Query().Get("token") // checked: {{.PhoneHomeURL}} carries it
	}
	plan, err := s.deps.Store.PlanBoot(r.Context(), req.MAC)
	if err == nil {
		var body []byte
		if body, err = RenderIgnition(plan, req); err == nil {
			ev.Detail = fmt.Sprintf("profile %s, %d bytes", plan.Profile.Name, len(body))
			s.deps.Log.Info("Ignition config served", "mac", req.MAC, "ip", req.IP, "profile", plan.Profile.Name, "bytes", len(body))
			s.deps.Events.Record(r.Context(), ev)
			w.Header().Set("Content-Type", "application/vnd.coreos.ignition+json")
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.Write(body)
			return
		}
	}
	s.deps.Counters.Inc("http.boot_errors")
	s.deps.Log.Warn("cannot serve Ignition config", "mac", req.MAC, "ip", req.IP, "err", err)
	ev.Stage, ev.Detail = events.StageError, "Ignition: "+err.Error()
	s.deps.Events.Record(r.Context(), ev)
	http.Error(w, "pixie: cannot render this machine's Ignition config: "+err.Error(), http.StatusInternalServerError)
}

// countingWriter counts body bytes so a finished download can be recorded.
type countingWriter struct {
	http.ResponseWriter
	n      int64
	status int
}

func (c *countingWriter) WriteHeader(code int) { c.status = code; c.ResponseWriter.WriteHeader(code) }
func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

// ReadFrom passes http.ServeContent's copy of the file on to the connection's
// own ReadFrom (sendfile(2) on Linux) instead of copying the image through a
// 32 KiB user-space buffer: images are hundreds of MB to GB.
func (c *countingWriter) ReadFrom(r io.Reader) (int64, error) {
	n, err := io.Copy(c.ResponseWriter, r)
	c.n += n
	return n, err
}

func (s *Server) serveAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("path")
	ip := clientIP(r)
	mac, _ := hwaddr.Parse(r.URL.Query().Get("mac"))
	if s.deps.Assets == nil {
		http.Error(w, "pixie: no asset store is configured", http.StatusNotFound)
		return
	}
	if strings.ContainsAny(name, "\\\x00") || !fs.ValidPath(name) {
		s.refuse(w, mac, ip, name, "not a clean relative path")
		return
	}
	f, err := s.deps.Assets.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			s.deps.Counters.Inc("http.assets.not_found")
			s.deps.Log.Warn("asset not found", "mac", mac, "ip", ip, "path", name)
			if mac != "" {
				// A booting machine's script named it (the file went
				// away since): its timeline must say why it stalls.
				s.deps.Events.Record(context.WithoutCancel(r.Context()), events.Event{
					MAC: mac, IP: ip, Stage: events.StageError,
					Detail: name + " is not in pixie's asset store (requested by the machine's boot script, which retries)",
				})
			}
			http.Error(w, "pixie: "+name+" is not in the asset store", http.StatusNotFound)
			return
		}
		s.refuse(w, mac, ip, name, err.Error())
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		s.refuse(w, mac, ip, name, "not a regular file")
		return
	}
	start := time.Now()
	cw := &countingWriter{ResponseWriter: w, status: http.StatusOK}
	uncork := corkRequest(r.Context())
	http.ServeContent(cw, r, fi.Name(), fi.ModTime(), f)
	uncork()
	stage := events.Stage(r.URL.Query().Get("stage"))
	if stage != events.StageKernel && stage != events.StageInitrd && stage != events.StageRootfs {
		stage = ""
	}
	// A full download (not a later byte range, not a HEAD) is a boot step.
	whole := r.Method == http.MethodGet && cw.status == http.StatusOK && cw.n == fi.Size()
	s.deps.Log.Info("asset served", "mac", mac, "ip", ip, "path", name, "bytes", cw.n, "status", cw.status, "duration", time.Since(start).Round(time.Millisecond))
	if mac != "" && stage != "" && whole {
		s.deps.Events.Record(context.WithoutCancel(r.Context()), events.Event{
			MAC: mac, IP: ip, Arch: eventArch(r), Stage: stage,
			Detail: fmt.Sprintf("%s, %d bytes in %s", name, cw.n, time.Since(start).Round(time.Millisecond)),
		})
	}
}

func (s *Server) refuse(w http.ResponseWriter, mac, ip, name, why string) {
	s.deps.Counters.Inc("http.refused")
	s.deps.Log.Warn("refused asset path", "mac", mac, "ip", ip, "path", fmt.Sprintf("%q", name), "reason", why)
	http.Error(w, "pixie: refused path", http.StatusForbidden)
}

func (s *Server) serveGRUBPath(w http.ResponseWriter, r *http.Request) {
	if !s.serveGRUB(w, r, strings.TrimPrefix(r.URL.Path, "/")) {
		http.NotFound(w, r)
	}
}

func (s *Server) serveFirmware(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if s.serveGRUB(w, r, name) { // GRUB reads grub.cfg from its own directory
		return
	}
	s.serveFirmwareFile(w, r, name)
}

// serveFirmwareFile sends a first-stage file over HTTP.
func (s *Server) serveFirmwareFile(w http.ResponseWriter, r *http.Request, name string) {
	if s.deps.Firmware == nil {
		http.NotFound(w, r)
		return
	}
	f, err := s.deps.Firmware(name)
	if err != nil {
		s.deps.Counters.Inc("http.firmware.not_found")
		s.deps.Log.Warn("firmware not served over HTTP", "ip", clientIP(r), "file", fmt.Sprintf("%q", name), "err", err)
		http.Error(w, "pixie: no firmware file "+name, http.StatusNotFound)
		return
	}
	defer f.Close()
	s.deps.Log.Info("firmware served over HTTP", "ip", clientIP(r), "file", name)
	http.ServeContent(w, r, name, time.Time{}, f)
}
