package dhcp

import (
	"sync"
	"time"
)

// repeats remembers which requests were recently recorded as boot events.
// Firmware and iPXE retransmit a DISCOVER (same MAC, same transaction ID)
// while the LAN's DHCP server is slow; each retransmit is answered, but one
// timeline entry per exchange is enough. Memory is bounded: past max
// entries the table starts over, which at worst records a repeat again.
type repeats struct {
	mu     sync.Mutex
	window time.Duration
	max    int
	seen   map[string]time.Time
}

func newRepeats(window time.Duration, max int) *repeats {
	return &repeats{window: window, max: max, seen: make(map[string]time.Time)}
}

// first reports whether key was not recorded within the window, and notes
// it as recorded now.
func (r *repeats) first(key string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.seen[key]; ok && now.Sub(t) < r.window {
		return false
	}
	if len(r.seen) >= r.max {
		clear(r.seen)
	}
	r.seen[key] = now
	return true
}
