package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/store"
)

// TestFailDiskFull: a store error that says the disk is full is answered
// 507 with what to do, not "see its log".
func TestFailDiskFull(t *testing.T) {
	var logs syncBuffer
	s := New(Deps{Log: slog.New(slog.NewTextHandler(&logs, nil))})
	for _, err := range []error{
		fmt.Errorf("put machine: %w", store.ErrDiskFull),
		&os.PathError{Op: "write", Path: "/var/lib/pixie/pixie.db-wal", Err: syscall.ENOSPC},
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPut, "/v1/machines/52:54:00:00:00:01", nil)
		s.fail(w, r, err)
		var e api.Error
		if jerr := json.Unmarshal(w.Body.Bytes(), &e); jerr != nil {
			t.Fatalf("%v: answer is not JSON: %v\n%s", err, jerr, w.Body)
		}
		if w.Code != http.StatusInsufficientStorage || e.Code != api.CodeDiskFull || e.Message != diskFullMessage {
			t.Errorf("%v: answered %d %+v, want 507 %s %q", err, w.Code, e, api.CodeDiskFull, diskFullMessage)
		}
	}
	if !strings.Contains(logs.String(), "disk is full") {
		t.Errorf("the daemon's log does not say the disk is full:\n%s", logs.String())
	}
	// Other unexpected errors still point at the log.
	w := httptest.NewRecorder()
	s.fail(w, httptest.NewRequest(http.MethodPut, "/v1/machines/x", nil), errors.New("database is locked"))
	if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "see its log") {
		t.Errorf("an unexpected error answered %d %s", w.Code, w.Body)
	}
}
