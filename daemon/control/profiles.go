package control

import (
	"net/http"

	"github.com/pixie-boot/pixie/daemon/api"
)

func (s *Server) listProfiles(w http.ResponseWriter, r *http.Request) {
	ps, err := s.deps.Store.Profiles(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, mapSlice(ps, apiProfile))
}

func (s *Server) getProfile(w http.ResponseWriter, r *http.Request) {
	p, err := s.deps.Store.Profile(r.Context(), r.PathValue("name"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apiProfile(p))
}

func (s *Server) createProfile(w http.ResponseWriter, r *http.Request) {
	var in api.Profile
	if !decodeBody(w, r, &in) {
		return
	}
	p, err := s.deps.Store.CreateProfile(r.Context(), storeProfile(in))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, "control: profile created", "profile", p.Name, "os", p.OS, "kernel", p.Kernel)
	writeJSON(w, http.StatusCreated, apiProfile(p))
}

// updateProfile replaces the profile named in the path; a name in the body,
// if any, must be the same (profiles are not renamed).
func (s *Server) updateProfile(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var in api.Profile
	if !decodeBody(w, r, &in) {
		return
	}
	if in.Name != "" && in.Name != name {
		writeError(w, http.StatusBadRequest, api.CodeInvalid, "the body's profile name "+in.Name+" is not the one in the URL ("+name+"): profiles cannot be renamed")
		return
	}
	in.Name = name
	p, err := s.deps.Store.UpdateProfile(r.Context(), storeProfile(in))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, "control: profile updated", "profile", p.Name, "os", p.OS, "kernel", p.Kernel)
	writeJSON(w, http.StatusOK, apiProfile(p))
}

func (s *Server) deleteProfile(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := s.deps.Store.DeleteProfile(r.Context(), name); err != nil {
		s.fail(w, r, err)
		return
	}
	s.audit(r, "control: profile removed", "profile", name)
	w.WriteHeader(http.StatusNoContent)
}
