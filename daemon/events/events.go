// Package events defines the boot events every stage of a network boot
// produces, and a hub that records them and fans them out to live
// subscribers (the control socket's event stream, and so the tray).
//
// The hub does not know about storage: it is given a Sink (the SQLite store)
// so the protocol servers only depend on this small leaf package.
package events

import (
	"cmp"
	"context"
	"log/slog"
	"sync"
	"time"
)

// Stage names one step of the boot chain. The order of the constants is the
// order a healthy boot goes through them.
type Stage string

const (
	StageDHCP     Stage = "dhcp"     // proxyDHCP offer/ack on port 67
	StagePXE      Stage = "pxe"      // the firmware's follow-up on port 4011
	StageTFTP     Stage = "tftp"     // first-stage iPXE firmware fetched
	StageScript   Stage = "script"   // per-machine iPXE script served
	StageKernel   Stage = "kernel"   // kernel fetched over HTTP
	StageInitrd   Stage = "initrd"   // an initrd fetched over HTTP
	StageRootfs   Stage = "rootfs"   // Fedora CoreOS's live rootfs fetched by its initramfs (coreos.live.rootfs_url)
	StageIgnition Stage = "ignition" // Ignition config served
	StageBooted   Stage = "booted"   // the booted OS called its phone-home URL: the last stage
	StageError    Stage = "error"    // something a person should look at
	StageServer   Stage = "server"   // daemon-level events (paused, address changed)
)

// Event is one recorded step of one machine's boot.
type Event struct {
	ID     int64     `json:"id"`
	Time   time.Time `json:"time"`
	MAC    string    `json:"mac"`  // normalized aa:bb:cc:dd:ee:ff; empty for server events
	IP     string    `json:"ip"`   // the client's address when known
	Arch   string    `json:"arch"` // e.g. "bios", "efi-x64", "efi-arm64"
	Stage  Stage     `json:"stage"`
	Detail string    `json:"detail"`
	// Instance names the pixie instance that recorded the event (several
	// may share one PostgreSQL store); the store fills it in.
	Instance string `json:"instance,omitempty"`
}

// Sink persists events. The store implements it.
type Sink interface {
	AddEvent(ctx context.Context, e Event) (Event, error)
}

// Hub records events through a Sink and delivers each stored event to every
// live subscriber. Slow subscribers lose events rather than slowing a boot.
type Hub struct {
	sink Sink
	log  *slog.Logger

	// writeMu orders writes: a direct Record first writes what its queue
	// holds, so event IDs follow the order events happened in, whichever
	// path they took (a timeline reads by ID).
	writeMu sync.Mutex
	queue   *Queue

	mu     sync.Mutex
	subs   map[chan Event]struct{}
	closed bool
}

// NewHub returns a hub writing to sink. log (nil discards) receives
// failures to persist.
func NewHub(sink Sink, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hub{sink: sink, log: log, subs: make(map[chan Event]struct{})}
}

// BatchSink is a Sink that can also store several events in one
// transaction; the store implements it, and Queue uses it.
type BatchSink interface {
	AddEvents(ctx context.Context, es []Event) ([]Event, error)
}

// Record stores e (stamping its time if unset) and publishes it. A storage
// failure is logged and the event is still published: a boot must never stop
// because the event log could not be written.
func (h *Hub) Record(ctx context.Context, e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	es := []Event{e}
	if h.queue != nil {
		es = append(h.queue.take(nil, maxBatch), e)
	}
	h.recordBatch(ctx, es)
}

// Publish delivers events that are stored already (another instance
// sharing the store wrote them) to the live subscribers, without storing
// them again.
func (h *Hub) Publish(es ...Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range es {
		for ch := range h.subs {
			select {
			case ch <- e:
			default: // subscriber is not keeping up; it will re-sync from the store
			}
		}
	}
}

func (h *Hub) recordBatch(ctx context.Context, es []Event) {
	if h.sink != nil {
		if err := h.store(ctx, es); err != nil {
			h.log.Warn("could not store boot events", "count", len(es), "mac", es[0].MAC, "stage", es[0].Stage, "err", err)
		}
	}
	h.Publish(es...)
}

// store writes es through the sink, setting their IDs in place.
func (h *Hub) store(ctx context.Context, es []Event) error {
	if b, ok := h.sink.(BatchSink); ok && len(es) > 1 {
		stored, err := b.AddEvents(ctx, es)
		if err == nil {
			copy(es, stored)
		}
		return err
	}
	var first error
	for i, e := range es {
		stored, err := h.sink.AddEvent(ctx, e)
		if err != nil {
			first = cmp.Or(first, err)
			continue
		}
		es[i] = stored
	}
	return first
}

// Queue records events for a hot path that must not wait for the disk:
// proxyDHCP answers each packet on one goroutine, and a SQLite commit per
// answer is what limited it under a flood of boot requests. Record hands
// the event to a bounded queue; Run stores what has queued up in one
// transaction and publishes it. When the queue is full the event is
// dropped and counted ("events.dropped"): the answer to the machine
// matters more than the line in its timeline.
type Queue struct {
	hub      *Hub
	counters *Counters
	ch       chan Event
	wake     chan struct{} // Run's signal that ch has events
}

// Queue returns a queue of size events in front of h. counters may be nil.
func (h *Hub) Queue(size int, counters *Counters) *Queue {
	if counters == nil {
		counters = NewCounters()
	}
	q := &Queue{hub: h, counters: counters, ch: make(chan Event, size), wake: make(chan struct{}, 1)}
	h.writeMu.Lock()
	h.queue = q
	h.writeMu.Unlock()
	return q
}

// take appends to batch what is queued, without waiting, up to max events
// in all.
func (q *Queue) take(batch []Event, max int) []Event {
	for len(batch) < max {
		select {
		case e := <-q.ch:
			batch = append(batch, e)
		default:
			return batch
		}
	}
	return batch
}

// Record queues e, or drops and counts it when the queue is full.
func (q *Queue) Record(_ context.Context, e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	select {
	case q.ch <- e:
	default:
		q.counters.Inc("events.dropped")
		return
	}
	select {
	case q.wake <- struct{}{}:
	default: // Run is already due to write
	}
}

// maxBatch bounds one transaction, so subscribers see a burst's first
// events without waiting for its end; batchLinger is how long a write
// waits for more events to share its commit (the delay a live view sees,
// well under what a person notices). At 500 answers a second, 100 ms
// rather than 25 cut pixie's CPU per answer by about a tenth: each commit
// is a cgo call, which wakes the Go runtime's monitor thread.
const (
	maxBatch    = 256
	batchLinger = 100 * time.Millisecond
)

// Run stores and publishes queued events until ctx ends, then stores what
// is still queued and returns nil.
func (q *Queue) Run(ctx context.Context) error {
	for {
		select {
		case <-q.wake:
		case <-ctx.Done():
			q.drain(context.WithoutCancel(ctx))
			return nil
		}
		// Linger a moment for the rest of a burst, asleep rather than
		// woken by every event: at a steady few hundred answers a second,
		// a commit (or a goroutine wake-up) per event would cost more CPU
		// than the answers themselves. The events stay in the channel
		// meanwhile, where a direct Record finds them and writes them
		// first.
		linger := time.NewTimer(batchLinger)
		select {
		case <-linger.C:
		case <-ctx.Done():
			linger.Stop()
		}
		q.drain(ctx)
	}
}

func (q *Queue) drain(ctx context.Context) {
	q.hub.writeMu.Lock()
	defer q.hub.writeMu.Unlock()
	for {
		batch := q.take(nil, maxBatch)
		if len(batch) == 0 {
			return
		}
		q.hub.recordBatch(ctx, batch)
	}
}

// Subscribe returns a channel of future events and a function that ends the
// subscription. The channel is closed when cancel is called or the hub closes.
func (h *Hub) Subscribe(buffer int) (<-chan Event, func()) {
	ch := make(chan Event, buffer)
	h.mu.Lock()
	if h.closed {
		close(ch)
		h.mu.Unlock()
		return ch, func() {}
	}
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			if _, ok := h.subs[ch]; ok {
				delete(h.subs, ch)
				close(ch)
			}
		})
	}
}

// Close ends all subscriptions.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for ch := range h.subs {
		delete(h.subs, ch)
		close(ch)
	}
}

// Counters is a set of named monotonic counters (packets ignored and why,
// transfers refused, ...) shown by `pixie status`. The zero value is not
// usable; create one with NewCounters.
type Counters struct {
	mu sync.Mutex
	m  map[string]uint64
}

// NewCounters returns an empty counter set.
func NewCounters() *Counters { return &Counters{m: make(map[string]uint64)} }

// Inc adds one to the named counter.
func (c *Counters) Inc(name string) {
	c.mu.Lock()
	c.m[name]++
	c.mu.Unlock()
}

// Add adds n to the named counter.
func (c *Counters) Add(name string, n uint64) {
	c.mu.Lock()
	c.m[name] += n
	c.mu.Unlock()
}

// Snapshot returns a copy of all counters.
func (c *Counters) Snapshot() map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]uint64, len(c.m))
	for k, v := range c.m {
		out[k] = v
	}
	return out
}
