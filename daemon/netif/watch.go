package netif

import (
	"context"
	"fmt"
	"time"
)

// State is what the chooser makes of the network at one moment: the
// interface and address to serve on, or why there is none (the interface
// is down, has lost its address, or is gone).
type State struct {
	Choice Choice
	Err    error
}

// Usable reports whether pixie can serve in this state.
func (s State) Usable() bool { return s.Err == nil && s.Choice.Addr.IsValid() }

// Same reports whether a and b need the same servers: the same interface
// and address, or both unusable for the same reason. A change of reason
// while unusable (down, then gone) is still a change worth reporting.
func Same(a, b State) bool {
	if a.Usable() != b.Usable() {
		return false
	}
	if a.Usable() {
		return a.Choice.Interface == b.Choice.Interface && a.Choice.Addr == b.Choice.Addr
	}
	return a.Err.Error() == b.Err.Error()
}

// Describe says in one line what changed between old and cur, for the log
// and the boot timeline.
func Describe(old, cur State) string {
	switch {
	case old.Usable() && cur.Usable() && old.Choice.Interface == cur.Choice.Interface:
		return fmt.Sprintf("address of %s changed from %s to %s: serving on the new address", cur.Choice.Interface, old.Choice.Addr, cur.Choice.Addr)
	case old.Usable() && cur.Usable():
		return fmt.Sprintf("moved from %s %s to %s %s", old.Choice.Interface, old.Choice.Addr, cur.Choice.Interface, cur.Choice.Addr)
	case old.Usable():
		return fmt.Sprintf("stopped serving on %s %s: %v; pixie keeps watching and serves again when it is back", old.Choice.Interface, old.Choice.Addr, cur.Err)
	case cur.Usable():
		return fmt.Sprintf("serving again on %s %s", cur.Choice.Interface, cur.Choice.Addr)
	default:
		return fmt.Sprintf("still not serving: %v", cur.Err)
	}
}

// Watch calls detect every interval and sends the state on out whenever it
// differs (see Same) from the last one sent, starting from initial. It
// polls rather than subscribing to routing messages so that it works the
// same on Linux and macOS; a laptop moving networks is noticed within one
// interval. It returns when ctx ends.
func Watch(ctx context.Context, initial State, interval time.Duration, detect func() (Choice, error), out chan<- State) {
	last := initial
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c, err := detect()
		cur := State{Choice: c, Err: err}
		if Same(last, cur) {
			continue
		}
		select {
		case out <- cur:
			last = cur
		case <-ctx.Done():
			return
		}
	}
}
