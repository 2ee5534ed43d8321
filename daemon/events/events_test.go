package events

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// memSink stores events in memory and remembers how they arrived.
type memSink struct {
	mu      sync.Mutex
	events  []Event
	batches []int // size of each write
	fail    error
}

func (m *memSink) AddEvent(ctx context.Context, e Event) (Event, error) {
	out, err := m.AddEvents(ctx, []Event{e})
	if err != nil {
		return e, err
	}
	return out[0], nil
}

func (m *memSink) AddEvents(_ context.Context, es []Event) ([]Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return es, m.fail
	}
	out := make([]Event, len(es))
	for i, e := range es {
		e.ID = int64(len(m.events) + 1)
		m.events = append(m.events, e)
		out[i] = e
	}
	m.batches = append(m.batches, len(es))
	return out, nil
}

func (m *memSink) stored() ([]Event, []int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Event(nil), m.events...), append([]int(nil), m.batches...)
}

func TestRecordStoresThenPublishesWithID(t *testing.T) {
	sink := &memSink{}
	h := NewHub(sink, nil)
	sub, cancel := h.Subscribe(4)
	defer cancel()
	h.Record(context.Background(), Event{MAC: "52:54:00:00:00:01", Stage: StageDHCP})
	got := <-sub
	if got.ID != 1 || got.Time.IsZero() || got.MAC != "52:54:00:00:00:01" {
		t.Fatalf("published %+v, want the stored event with ID 1 and a time", got)
	}
}

func TestQueueBatchesAndDrainsOnStop(t *testing.T) {
	sink := &memSink{}
	h := NewHub(sink, nil)
	sub, cancel := h.Subscribe(2000)
	defer cancel()
	counters := NewCounters()
	q := h.Queue(1000, counters)
	// Queued before Run starts: the first write must take them together.
	for i := range 600 {
		q.Record(context.Background(), Event{MAC: fmt.Sprintf("52:54:00:00:%02x:%02x", i/256, i%256), Stage: StageDHCP})
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Run(ctx) }()
	deadline := time.After(5 * time.Second)
	for n := 0; n < 600; n++ {
		select {
		case e := <-sub:
			if e.ID != int64(n+1) {
				t.Fatalf("event %d published with ID %d: order or IDs lost", n, e.ID)
			}
		case <-deadline:
			t.Fatalf("only %d of 600 queued events published", n)
		}
	}
	_, batches := sink.stored()
	if len(batches) > 3 || batches[0] != maxBatch {
		t.Errorf("writes of %v events, want batches of up to %d", batches, maxBatch)
	}
	// Events queued as the daemon stops are still stored.
	q.Record(context.Background(), Event{MAC: "52:54:00:ff:ff:ff", Stage: StageDHCP})
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	q.drain(context.Background()) // in case Run stopped before the last Record landed
	if all, _ := sink.stored(); len(all) != 601 || all[600].MAC != "52:54:00:ff:ff:ff" {
		t.Fatalf("stored %d events after stop, want 601 ending with the last one", len(all))
	}
	if got := counters.Snapshot()["events.dropped"]; got != 0 {
		t.Errorf("events.dropped = %d, want 0", got)
	}
}

func TestQueueDropsAndCountsWhenFull(t *testing.T) {
	counters := NewCounters()
	q := NewHub(&memSink{}, nil).Queue(10, counters)
	for range 25 {
		q.Record(context.Background(), Event{Stage: StageDHCP})
	}
	if got := counters.Snapshot()["events.dropped"]; got != 15 {
		t.Fatalf("events.dropped = %d, want 15 (queue of 10, 25 recorded, no writer)", got)
	}
}

func TestStorageFailureStillPublishes(t *testing.T) {
	sink := &memSink{fail: errors.New("disk full")}
	h := NewHub(sink, nil)
	sub, cancel := h.Subscribe(1)
	defer cancel()
	h.Record(context.Background(), Event{MAC: "52:54:00:00:00:02", Stage: StageTFTP})
	if got := <-sub; got.MAC != "52:54:00:00:00:02" {
		t.Fatalf("published %+v", got)
	}
}

// A boot's DHCP events go through the queue and its HTTP events straight to
// the hub; the timeline (by ID) must still read in the order they happened.
func TestDirectRecordWritesQueuedEventsFirst(t *testing.T) {
	sink := &memSink{}
	h := NewHub(sink, nil)
	q := h.Queue(16, nil)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go q.Run(ctx) // lingering: it has not written the DHCP event yet
	q.Record(context.Background(), Event{MAC: "52:54:00:00:00:03", Stage: StageDHCP})
	h.Record(context.Background(), Event{MAC: "52:54:00:00:00:03", Stage: StageScript})
	all, _ := sink.stored()
	if len(all) != 2 || all[0].Stage != StageDHCP || all[1].Stage != StageScript || all[0].ID > all[1].ID {
		t.Fatalf("stored %+v, want the queued dhcp event before the script event", all)
	}
}
