package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/store"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // a failed write means the client went away
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, api.Error{Code: code, Message: msg})
}

// diskFullMessage is the answer (507 Insufficient Storage) to a write the
// store refused because the disk is full.
const diskFullMessage = "pixie could not save the change: the disk holding its data directory is full; free space and try again (nothing was changed)"

// fail answers with the HTTP status and code the store's error means.
// A full disk is 507 with what to do; other unexpected errors are logged
// and answered without detail.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, api.CodeNotFound, err.Error())
	case errors.Is(err, store.ErrExists):
		writeError(w, http.StatusConflict, api.CodeExists, err.Error())
	case errors.Is(err, store.ErrInUse):
		writeError(w, http.StatusConflict, api.CodeInUse, err.Error())
	case errors.Is(err, store.ErrInvalid):
		writeError(w, http.StatusBadRequest, api.CodeInvalid, err.Error())
	case store.IsDiskFull(err):
		s.log.WarnContext(r.Context(), "control API request failed: the disk is full", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInsufficientStorage, api.CodeDiskFull, diskFullMessage)
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The caller hung up; there is no one to answer.
	default:
		s.log.ErrorContext(r.Context(), "control API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, api.CodeInternal, "the pixie daemon failed to "+r.Method+" "+r.URL.Path+": see its log")
	}
}

// decodeBody reads a JSON request body of at most api.MaxBodyBytes into v,
// refusing unknown fields and trailing data. On failure it has answered
// the request and returns false.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	return decodeBodyLimit(w, r, v, api.MaxBodyBytes)
}

// decodeBodyLimit is decodeBody for a body of at most limit bytes.
func decodeBodyLimit(w http.ResponseWriter, r *http.Request, v any, limit int64) bool {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = errors.New("unexpected data after the JSON object")
			if terr != nil {
				err = terr
			}
		}
	}
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return true
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, api.CodeBadRequest,
			fmt.Sprintf("request body is larger than %d KiB", limit>>10))
	case errors.Is(err, io.EOF):
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, "request body is empty: send a JSON object")
	default:
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, "malformed request body: "+err.Error())
	}
	return false
}

// queryInt reads an optional integer query parameter in [lo, hi]; absent
// gives def. On failure it has answered the request and returns false.
func queryInt(w http.ResponseWriter, r *http.Request, name string, def, lo, hi int64) (int64, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest,
			fmt.Sprintf("%s=%q: want a whole number from %d to %d", name, v, lo, hi))
		return 0, false
	}
	return n, true
}
