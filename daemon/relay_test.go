package daemon

import (
	"context"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/events"
)

// TestOwnOnly: the loader ladder is fed this instance's events (and those
// it could not store, which name no instance), never those relayed from
// another instance sharing the store.
func TestOwnOnly(t *testing.T) {
	in := make(chan events.Event, 4)
	out := make(chan events.Event, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ownOnly(ctx, in, out, "boot-a")
	in <- events.Event{ID: 1, Instance: "boot-a"}
	in <- events.Event{ID: 2, Instance: "boot-b"}
	in <- events.Event{ID: 3}
	in <- events.Event{ID: 4, Instance: "boot-a"}
	var got []int64
	for len(got) < 3 {
		select {
		case e := <-out:
			got = append(got, e.ID)
		case <-time.After(5 * time.Second):
			t.Fatalf("forwarded %v, want 1 3 4", got)
		}
	}
	if got[0] != 1 || got[1] != 3 || got[2] != 4 {
		t.Errorf("forwarded %v, want 1 3 4", got)
	}
	cancel()
	if _, open := <-out; open {
		t.Error("out still open after the context ended")
	}
}
