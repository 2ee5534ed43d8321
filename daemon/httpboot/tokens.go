package httpboot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/store"
)

// Tokens issues and checks per-boot tokens. *store.Store implements it.
type Tokens interface {
	IssueBootToken(ctx context.Context, mac string, ttl time.Duration) (string, error)
	CheckBootToken(ctx context.Context, tok, mac string, now time.Time) (store.BootToken, error)
}

// issueToken gives the machine a fresh token when tokens are on and its
// kernel arguments carry the Ignition URL.
func (s *Server) issueToken(ctx context.Context, plan store.BootPlan, req *Request) error {
	if s.deps.Tokens == nil || !strings.Contains(plan.Profile.Args, "IgnitionURL") {
		return nil
	}
	tok, err := s.deps.Tokens.IssueBootToken(ctx, req.MAC, s.cfg.TokenTTL)
	if err != nil {
		return err
	}
	req.Token = tok
	return nil
}

// checkToken refuses (403, and a boot event saying why) a request whose
// token is missing, unknown, expired or issued to another MAC. A
// phone-home call may come after the token expired: the OS installing
// itself can take longer than the token lives.
func (s *Server) checkToken(w http.ResponseWriter, r *http.Request, req Request, ev events.Event, what string, allowExpired bool) bool {
	if s.deps.Tokens == nil {
		return true
	}
	tok := r.URL.Query().Get("token")
	t, err := s.deps.Tokens.CheckBootToken(r.Context(), tok, req.MAC, time.Now())
	if err == nil || allowExpired && errors.Is(err, store.ErrTokenExpired) {
		return true
	}
	why := err.Error()
	switch {
	case errors.Is(err, store.ErrTokenExpired):
		why = fmt.Sprintf("token expired at %s (issued when the boot script was served; reboot the machine for a new one)", t.ExpiresAt.Format(time.RFC3339))
	case errors.Is(err, store.ErrTokenWrongMAC):
		why = "token was issued to " + t.MAC + ", not to this MAC"
	case errors.Is(err, store.ErrTokenMissing):
		why = "no token in the URL (use the URL from the boot script's kernel arguments)"
	}
	s.deps.Counters.Inc("http.refused.token")
	s.deps.Log.Warn(what+" refused", "mac", req.MAC, "ip", req.IP, "reason", why)
	ev.Stage, ev.Detail = events.StageError, what+" refused: "+why
	s.deps.Events.Record(context.WithoutCancel(r.Context()), ev)
	http.Error(w, "pixie: "+what+" refused: "+why, http.StatusForbidden)
	return false
}

// servePhoneHome records that the booted OS is up: the final stage of a
// boot. Configs call it through {{.PhoneHomeURL}}.
func (s *Server) servePhoneHome(w http.ResponseWriter, r *http.Request) {
	req, err := s.request(r)
	if err != nil {
		s.deps.Counters.Inc("http.refused.bad_mac")
		http.Error(w, "pixie: "+err.Error()+": request /phone-home?mac=MAC&token=TOKEN", http.StatusBadRequest)
		return
	}
	ev := events.Event{MAC: req.MAC, IP: req.IP, Stage: events.StageBooted}
	if !s.checkToken(w, r, req, ev, "phone-home", true) {
		return
	}
	ev.Detail = "the booted OS called home"
	s.deps.Log.Info("machine called home", "mac", req.MAC, "ip", req.IP)
	s.deps.Events.Record(r.Context(), ev)
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte("ok\n"))
}
