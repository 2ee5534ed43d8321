package control

import (
	"errors"
	"net/http"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/hwaddr"
	"github.com/pixie-boot/pixie/daemon/store"
)

// pathMAC parses the {mac} path segment in any spelling. On failure it has
// answered the request and returns false.
func pathMAC(w http.ResponseWriter, r *http.Request) (string, bool) {
	mac, err := hwaddr.Parse(r.PathValue("mac"))
	if err != nil {
		writeError(w, http.StatusBadRequest, api.CodeInvalid, "invalid "+err.Error())
		return "", false
	}
	return mac, true
}

func (s *Server) listMachines(w http.ResponseWriter, r *http.Request) {
	ms, err := s.deps.Store.Machines(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, mapSlice(ms, apiMachine))
}

func (s *Server) getMachine(w http.ResponseWriter, r *http.Request) {
	mac, ok := pathMAC(w, r)
	if !ok {
		return
	}
	m, err := s.deps.Store.Machine(r.Context(), mac)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apiMachine(m))
}

// putMachine creates or replaces the machine named in the path. A MAC in
// the body, if any, must be the same address.
func (s *Server) putMachine(w http.ResponseWriter, r *http.Request) {
	mac, ok := pathMAC(w, r)
	if !ok {
		return
	}
	var in api.Machine
	if !decodeBody(w, r, &in) {
		return
	}
	if in.MAC != "" {
		if body, err := hwaddr.Parse(in.MAC); err != nil || body != mac {
			writeError(w, http.StatusBadRequest, api.CodeInvalid, "the body's MAC "+in.MAC+" is not the one in the URL ("+mac+")")
			return
		}
	}
	in.MAC = mac
	_, err := s.deps.Store.Machine(r.Context(), mac)
	created := errors.Is(err, store.ErrNotFound)
	if err != nil && !created {
		s.fail(w, r, err)
		return
	}
	if in.IP != "" && s.deps.Addresses != nil {
		if err := s.deps.Addresses.CheckReservation(mac, in.IP); err != nil {
			writeError(w, http.StatusBadRequest, api.CodeInvalid, err.Error())
			return
		}
	}
	m, err := s.deps.Store.PutMachine(r.Context(), storeMachine(in))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if s.deps.Loaders != nil {
		s.deps.Loaders.SetLoader(m.MAC, m.Loader, m.LoaderStep)
	}
	if s.deps.Addresses != nil {
		s.deps.Addresses.ReservationsChanged(r.Context())
	}
	status, what := http.StatusOK, "control: machine updated"
	if created {
		status, what = http.StatusCreated, "control: machine created"
	}
	s.audit(r, what, "mac", m.MAC, "profile", m.Profile, "hostname", m.Hostname, "vars", len(m.Vars), "loader", m.Loader, "loader_step", m.LoaderStep, "ip", m.IP)
	writeJSON(w, status, apiMachine(m))
}

func (s *Server) deleteMachine(w http.ResponseWriter, r *http.Request) {
	mac, ok := pathMAC(w, r)
	if !ok {
		return
	}
	if err := s.deps.Store.DeleteMachine(r.Context(), mac); err != nil {
		s.fail(w, r, err)
		return
	}
	if s.deps.Loaders != nil {
		s.deps.Loaders.Forget(mac)
	}
	if s.deps.Addresses != nil {
		s.deps.Addresses.ReservationsChanged(r.Context())
	}
	s.audit(r, "control: machine removed", "mac", mac)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) timeline(w http.ResponseWriter, r *http.Request) {
	mac, ok := pathMAC(w, r)
	if !ok {
		return
	}
	limit, ok := queryInt(w, r, "limit", 0, 1, 10000)
	if !ok {
		return
	}
	es, err := s.deps.Store.Timeline(r.Context(), mac, int(limit))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, mapSlice(es, apiEvent))
}

func (s *Server) boots(w http.ResponseWriter, r *http.Request) {
	limit, ok := queryInt(w, r, "limit", 0, 1, 10000)
	if !ok {
		return
	}
	bs, err := s.deps.Store.RecentBoots(r.Context(), int(limit))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, mapSlice(bs, apiBoot))
}

// leases lists full-DHCP mode's lease table; without the DHCP side (a
// test server) it lists the stored leases.
func (s *Server) leases(w http.ResponseWriter, r *http.Request) {
	if s.deps.Addresses != nil {
		ls, err := s.deps.Addresses.Leases(r.Context())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if ls.Leases == nil {
			ls.Leases = []api.Lease{}
		}
		writeJSON(w, http.StatusOK, ls)
		return
	}
	stored, err := s.deps.Store.Leases(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.Leases{Mode: "proxy", Leases: mapSlice(stored, apiLease)})
}
