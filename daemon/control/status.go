package control

import (
	"net/http"

	"github.com/pixie-boot/pixie/daemon/api"
)

func (s *Server) currentStatus(r *http.Request) api.Status {
	st := s.deps.Status()
	if st.Socket == "" {
		if c := callerFrom(r.Context()); c != nil {
			st.Socket = c.socket
		}
	}
	return st
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.currentStatus(r))
}

// setPaused handles pause (true) and resume (false); both are idempotent
// and answer with the status after the change.
func (s *Server) setPaused(paused bool) http.HandlerFunc {
	verb := "resume"
	if paused {
		verb = "pause"
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if s.deps.SetPaused == nil {
			writeError(w, http.StatusNotImplemented, api.CodeInternal, "this pixie daemon cannot "+verb)
			return
		}
		was := s.deps.Status().Paused
		if err := s.deps.SetPaused(r.Context(), paused); err != nil {
			s.log.ErrorContext(r.Context(), "control: "+verb+" failed", "err", err)
			writeError(w, http.StatusInternalServerError, api.CodeInternal, verb+": "+err.Error())
			return
		}
		s.audit(r, "control: network boot "+verb+"d", "was_paused", was)
		writeJSON(w, http.StatusOK, s.currentStatus(r))
	}
}
