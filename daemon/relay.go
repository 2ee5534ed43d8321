package daemon

import (
	"context"
	"log/slog"

	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/store"
)

// relayOthers puts the boot events other instances sharing the store
// write onto this instance's live stream (`pixie boots --follow`, the
// tray), as PostgreSQL notifies them. It reads from the newest event at
// start: what came before is in the store for `pixie boots` and
// timelines. This instance's own events reach the stream directly.
func relayOthers(ctx context.Context, st *store.Store, hub *events.Hub, log *slog.Logger) error {
	if !st.Watchable() {
		return nil
	}
	last, err := st.LastEventID(ctx)
	if err != nil {
		log.Warn("could not read the newest boot event: other instances' events start on the live stream at the next one", "err", err)
	}
	return st.WatchEvents(ctx, log, func() {
		for {
			es, err := st.EventsSince(ctx, last, 1000)
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("could not read other instances' boot events for the live stream", "err", err)
				}
				return
			}
			for _, e := range es {
				last = max(last, e.ID)
				if !ownEvent(e, st.Instance()) {
					hub.Publish(e)
				}
			}
			if len(es) < 1000 {
				return
			}
		}
	})
}

// ownOnly forwards the events this instance recorded from in to out until
// ctx ends, dropping those relayed from other instances.
func ownOnly(ctx context.Context, in <-chan events.Event, out chan<- events.Event, instance string) {
	defer close(out)
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-in:
			if !ok {
				return
			}
			if !ownEvent(e, instance) {
				continue
			}
			select {
			case out <- e:
			case <-ctx.Done():
				return
			}
		}
	}
}

// ownEvent says whether this instance recorded e: the store names the
// instance on every event it writes; an event it could not store has none.
func ownEvent(e events.Event, instance string) bool {
	return e.Instance == "" || e.Instance == instance
}
