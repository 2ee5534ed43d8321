// Package control serves pixie's control API (see package api) on the
// daemon's Unix socket: status, pause/resume, machines, profiles, boot
// history and a live event stream.
//
// The kernel says who is calling: every connection's peer credentials are
// read when it is accepted, and a request is served only for root or a
// member of the socket's group (a "pixie" group on Linux, "admin" on macOS).
// The socket's file permissions say the same, so the check here is the
// second of two locks, not the only one.
//
// The API names machines and profiles, never host paths: a caller cannot
// make the daemon read or serve a file it chooses. The one exception is an
// import's --link, which hard-links a file of the caller's tree only when
// its content is what the caller hashed after reading it with its own
// permissions (importfiles.go), and answers alike for a missing file, a
// link and other content.
package control

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/pulls"
	"github.com/pixie-boot/pixie/daemon/store"
)

// Deps is what the control server works on.
type Deps struct {
	Store *store.Store
	Hub   *events.Hub
	// Status reports the daemon's state; the server fills Socket if empty.
	Status func() api.Status
	// SetPaused stops (true) or resumes (false) offering network boot.
	SetPaused func(ctx context.Context, paused bool) error
	// Loaders, if set, is told of a machine's loader choice when it is
	// saved or removed, so the DHCP server's in-memory ladder follows.
	Loaders LoaderBook
	// Addresses, if set, vets machines' reserved addresses against the
	// DHCP server's own address and pool, is told when they change, and
	// lists the leases (GET /v1/leases).
	Addresses Addresses
	// Pulls, if set, runs image pulls into the daemon's asset store.
	Pulls *pulls.Manager
	Log   *slog.Logger
	// AllowUID, if set, replaces the root-or-group check (tests).
	AllowUID func(uid uint32) bool
	// KeepAlive is how often an idle event stream gets a comment line, so
	// a client that went away is noticed; 0 means 15 seconds.
	KeepAlive time.Duration
}

// LoaderBook is the DHCP server's per-machine loader state
// (*dhcp.LadderBook behind an adapter in the daemon).
type LoaderBook interface {
	SetLoader(mac, loader, step string)
	Forget(mac string)
}

// Addresses is the DHCP side of reservations and leases (the daemon's
// full-DHCP wiring).
type Addresses interface {
	// CheckReservation returns why mac may not reserve ip (pixie's own
	// address, inside the full-DHCP pool), nil when it may.
	CheckReservation(mac, ip string) error
	// ReservationsChanged reloads the reservations after a machine was
	// saved or removed.
	ReservationsChanged(ctx context.Context)
	// Leases lists the lease table.
	Leases(ctx context.Context) (api.Leases, error)
}

// Server is the control API server.
type Server struct {
	deps      Deps
	log       *slog.Logger
	keepAlive time.Duration
}

// New returns a server; deps.Store, deps.Hub and deps.Status are required.
func New(deps Deps) *Server {
	s := &Server{deps: deps, log: deps.Log, keepAlive: deps.KeepAlive}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.keepAlive <= 0 {
		s.keepAlive = 15 * time.Second
	}
	return s
}

// Handler returns the API's HTTP handler. It serves only requests that
// arrived through Serve, whose connections carry the caller's identity.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", s.status)
	mux.HandleFunc("POST /v1/pause", noBody(s.setPaused(true)))
	mux.HandleFunc("POST /v1/resume", noBody(s.setPaused(false)))

	mux.HandleFunc("GET /v1/machines", s.listMachines)
	mux.HandleFunc("GET /v1/machines/{mac}", s.getMachine)
	mux.HandleFunc("PUT /v1/machines/{mac}", s.putMachine)
	mux.HandleFunc("DELETE /v1/machines/{mac}", noBody(s.deleteMachine))
	mux.HandleFunc("GET /v1/machines/{mac}/timeline", s.timeline)

	mux.HandleFunc("GET /v1/profiles", s.listProfiles)
	mux.HandleFunc("POST /v1/profiles", s.createProfile)
	mux.HandleFunc("POST /v1/profiles/from-os", s.profileFromOS)
	mux.HandleFunc("GET /v1/profiles/{name}", s.getProfile)
	mux.HandleFunc("PUT /v1/profiles/{name}", s.updateProfile)
	mux.HandleFunc("DELETE /v1/profiles/{name}", noBody(s.deleteProfile))

	mux.HandleFunc("POST /v1/import/plan", s.planImport)
	mux.HandleFunc("POST /v1/import", s.applyImport)

	mux.HandleFunc("GET /v1/leases", s.leases)

	mux.HandleFunc("POST /v1/pulls", s.startPull)
	mux.HandleFunc("GET /v1/pulls", s.listPulls)
	mux.HandleFunc("GET /v1/pulls/{id...}", s.getPull)
	mux.HandleFunc("DELETE /v1/pulls/{id...}", noBody(s.cancelPull))
	mux.HandleFunc("GET /v1/images", s.listImages)
	mux.HandleFunc("DELETE /v1/images/{id...}", noBody(s.removeImage))

	mux.HandleFunc("GET /v1/boots", s.boots)
	mux.HandleFunc("GET /v1/events", s.events)

	// Anything else gets a JSON answer too, so clients have one error path.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, api.CodeNotFound, "no such control API endpoint: "+r.Method+" "+r.URL.Path)
	})
	return s.authorize(cleanPaths(mux))
}
