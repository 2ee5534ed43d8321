package control

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/events"
)

// catchUpPage is how many stored events one catch-up query reads.
const catchUpPage = 1000

// events streams boot events as Server-Sent Events. With ?after=ID it first
// sends the stored events after ID, then live ones; without, live ones only.
// Events the hub dropped because this stream lagged are re-read from the
// store, so a client sees every stored event once, in ID order.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	after, ok := queryInt(w, r, "after", -1, 0, math.MaxInt64)
	if !ok {
		return
	}
	ctx := r.Context()
	rc := http.NewResponseController(w)
	// Subscribe before reading the store so nothing falls between the two.
	live, cancel := s.deps.Hub.Subscribe(256)
	defer cancel()
	// Image pulls' progress, not stored: a stream sees the pulls of its
	// lifetime (and GET /v1/pulls has the rest).
	var pullc <-chan api.Pull
	if s.deps.Pulls != nil {
		var stop func()
		pullc, stop = s.deps.Pulls.Subscribe(64)
		defer stop()
	}

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}
	st := &sse{w: w, last: after}
	if after >= 0 {
		if err := s.catchUp(r, st); err != nil {
			return
		}
	}
	if err := rc.Flush(); err != nil {
		return
	}
	keepAlive := time.NewTicker(s.keepAlive)
	defer keepAlive.Stop()
	stopping := stoppingFrom(ctx)
	// lagging is set when the subscription's buffer filled up: the hub
	// drops events for a subscriber that is not keeping up, and nothing
	// newer may arrive to reveal the gap, so re-read the store once the
	// buffer is drained.
	lagging := false
	for {
		var err error
		select {
		case <-ctx.Done():
			return
		case <-stopping:
			return
		case e, ok := <-live:
			if !ok {
				return // the hub closed: the daemon is stopping
			}
			if len(live) >= cap(live)-1 {
				lagging = true
			}
			switch {
			case e.ID == 0 || st.last < 0:
				// Not stored (no ID to order by), or live-only and this is
				// the first: send as is.
				err = st.send(e)
			case e.ID <= st.last:
				// Sent already by a catch-up.
			case e.ID > st.last+1:
				// Earlier events were dropped or are still in flight:
				// read them (and this one) from the store, in order.
				err = s.catchUp(r, st)
			default:
				err = st.send(e)
			}
			if err == nil && lagging && len(live) == 0 && st.last >= 0 {
				lagging = false
				err = s.catchUp(r, st)
			}
		case p := <-pullc:
			err = sendPull(w, p)
		case <-keepAlive.C:
			// Also a safety net for events missed some other way.
			if st.last >= 0 {
				err = s.catchUp(r, st)
			}
			if err == nil {
				_, err = fmt.Fprint(w, ": keep-alive\n\n")
			}
		}
		if err == nil {
			err = rc.Flush()
		}
		if err != nil {
			return // the client went away
		}
	}
}

// catchUp sends the stored events after st.last.
func (s *Server) catchUp(r *http.Request, st *sse) error {
	for {
		es, err := s.deps.Store.EventsSince(r.Context(), max(st.last, 0), catchUpPage)
		if err != nil {
			s.log.WarnContext(r.Context(), "event stream: cannot read stored events", "err", err)
			return err
		}
		for _, e := range es {
			if err := st.send(e); err != nil {
				return err
			}
		}
		if len(es) < catchUpPage {
			return nil
		}
	}
}

// sse writes events and remembers the last ID written.
type sse struct {
	w    http.ResponseWriter
	last int64 // -1: nothing sent and no catch-up point
}

func (st *sse) send(e events.Event) error {
	b, err := json.Marshal(apiEvent(e))
	if err != nil {
		return err
	}
	if e.ID > 0 {
		if _, err := fmt.Fprintf(st.w, "id: %d\n", e.ID); err != nil {
			return err
		}
		st.last = max(st.last, e.ID)
	}
	_, err = fmt.Fprintf(st.w, "event: %s\ndata: %s\n\n", api.SSEEventBoot, b)
	return err
}

// sendPull writes one pull snapshot; pulls carry no ID, as they are not
// stored events and ?after= does not count them.
func sendPull(w http.ResponseWriter, p api.Pull) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", api.SSEEventPull, b)
	return err
}
