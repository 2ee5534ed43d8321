package control

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/images"
	"github.com/pixie-boot/pixie/daemon/pulls"
)

// The image endpoints: pulls run in the daemon (package pulls), so every
// client can start, follow and cancel them, and none needs write access
// to the data directory. A request names an OS and a release, never a
// host path: the store is the daemon's own.

func (s *Server) pullsOr501(w http.ResponseWriter) bool {
	if s.deps.Pulls == nil {
		writeError(w, http.StatusNotImplemented, api.CodeInternal, "this pixie daemon has no asset store to pull images into")
		return false
	}
	return true
}

func (s *Server) startPull(w http.ResponseWriter, r *http.Request) {
	if !s.pullsOr501(w) {
		return
	}
	var in api.PullRequest
	if !decodeBody(w, r, &in) {
		return
	}
	p, err := s.deps.Pulls.Start(in)
	if err != nil {
		s.pullFail(w, r, err)
		return
	}
	if p.Joined {
		writeJSON(w, http.StatusOK, p)
		return
	}
	s.audit(r, "control: image pull started", "pull", p.ID, "image", p.Key)
	writeJSON(w, http.StatusAccepted, p)
}

func (s *Server) listPulls(w http.ResponseWriter, r *http.Request) {
	if !s.pullsOr501(w) {
		return
	}
	writeJSON(w, http.StatusOK, s.deps.Pulls.List())
}

func (s *Server) getPull(w http.ResponseWriter, r *http.Request) {
	if !s.pullsOr501(w) {
		return
	}
	p, err := s.deps.Pulls.Get(r.PathValue("id"))
	if err != nil {
		s.pullFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) cancelPull(w http.ResponseWriter, r *http.Request) {
	if !s.pullsOr501(w) {
		return
	}
	// A pull stops at its next read or write; wait a little for it so the
	// answer says how it ended.
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	p, err := s.deps.Pulls.Cancel(ctx, r.PathValue("id"))
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		s.pullFail(w, r, err)
		return
	}
	s.audit(r, "control: image pull cancelled", "pull", p.ID, "image", p.Key, "state", p.State)
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) listImages(w http.ResponseWriter, r *http.Request) {
	if !s.pullsOr501(w) {
		return
	}
	imgs, err := images.List(s.deps.Pulls.Assets())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]api.Image, 0, len(imgs))
	for _, im := range imgs {
		ai := pulls.APIImage(im)
		ai.Loaders = pulls.ImageLoaders(s.deps.Pulls.Assets(), im)
		out = append(out, ai)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) removeImage(w http.ResponseWriter, r *http.Request) {
	if !s.pullsOr501(w) {
		return
	}
	id := strings.Trim(r.PathValue("id"), "/")
	for _, p := range s.deps.Pulls.List() {
		if !p.Ended() && sameImage(p.Key, id) {
			writeError(w, http.StatusConflict, api.CodeInUse, fmt.Sprintf("image %s is being pulled (pull %s): wait for it, or cancel it with `pixie images cancel %s`, then remove it", id, p.ID, p.ID))
			return
		}
	}
	if err := images.Remove(s.deps.Pulls.Assets(), id); err != nil {
		if strings.Contains(err.Error(), "is not an image") {
			writeError(w, http.StatusNotFound, api.CodeNotFound, err.Error())
			return
		}
		s.fail(w, r, err)
		return
	}
	s.audit(r, "control: image removed", "image", id)
	w.WriteHeader(http.StatusNoContent)
}

// pullFail answers a refused or unknown pull with what it means.
func (s *Server) pullFail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, pulls.ErrInvalid):
		writeError(w, http.StatusBadRequest, api.CodeInvalid, strings.TrimPrefix(err.Error(), pulls.ErrInvalid.Error()+": "))
	case errors.Is(err, pulls.ErrNotFound):
		writeError(w, http.StatusNotFound, api.CodeNotFound, err.Error())
	default:
		s.fail(w, r, err)
	}
}

// sameImage reports whether a pull's key and an image ID name the same
// OS, stream and architecture (a generic image: the same name), whatever
// release the pull resolves to.
func sameImage(key, id string) bool {
	k, i := strings.Split(key, "/"), strings.Split(id, "/")
	n := 3
	if k[0] == "generic" {
		n = 2
	}
	if len(k) < n || len(i) < n {
		return false
	}
	return strings.Join(k[:n], "/") == strings.Join(i[:n], "/")
}
