package control

import (
	"errors"
	"net/http"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/compose"
	"github.com/pixie-boot/pixie/daemon/store"
)

// profileFromOS makes a profile from an OS and the images pulled into the
// daemon's asset store (package compose), and saves it as asked. The
// request carries public keys as text: nothing in it names a host path.
func (s *Server) profileFromOS(w http.ResponseWriter, r *http.Request) {
	if !s.pullsOr501(w) {
		return
	}
	var in api.OSProfileRequest
	if !decodeBody(w, r, &in) {
		return
	}
	ctx := r.Context()
	var old *api.Profile
	switch in.Save {
	case "", "create", "replace":
	case "update":
		sp, err := s.deps.Store.Profile(ctx, in.Profile.Name)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		p := apiProfile(sp)
		old = &p
	default:
		writeError(w, http.StatusBadRequest, api.CodeInvalid, "save "+in.Save+": use create, replace, update, or leave it out to save nothing")
		return
	}
	res, err := compose.Make(in, old, s.deps.Pulls.Assets())
	switch {
	case errors.Is(err, compose.ErrInvalid):
		writeError(w, http.StatusBadRequest, api.CodeBadSetting, err.Error())
		return
	case errors.Is(err, compose.ErrNotPulled):
		writeError(w, http.StatusNotFound, api.CodeNotFound, err.Error())
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	out := api.OSProfileResult{Profile: res.Profile, Warnings: res.Warnings}
	var saved store.Profile
	switch in.Save {
	case "create", "replace":
		out.Saved = "added"
		saved, err = s.deps.Store.CreateProfile(ctx, storeProfile(res.Profile))
		if errors.Is(err, store.ErrExists) && in.Save == "replace" {
			out.Saved = "replaced"
			saved, err = s.deps.Store.UpdateProfile(ctx, storeProfile(res.Profile))
		}
	case "update":
		out.Saved = "updated"
		saved, err = s.deps.Store.UpdateProfile(ctx, storeProfile(res.Profile))
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if out.Saved != "" {
		out.Profile = apiProfile(saved)
		s.audit(r, "control: profile "+out.Saved+" from an OS image", "profile", saved.Name, "os", saved.OS, "kernel", saved.Kernel)
	}
	writeJSON(w, http.StatusOK, out)
}
