package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/events"
)

// BenchmarkAddEventsFull is what the DHCP event writer costs per event in a
// flood of new machines once the table is at its default limit (100,000
// events): batches of 256 (the queue's largest), a trim every 500 inserts.
func BenchmarkAddEventsFull(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "pixie.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	batch := make([]events.Event, 256)
	fill := func(n int) {
		for i := range batch {
			batch[i] = events.Event{Time: time.Now().UTC(), MAC: fmt.Sprintf("52:54:00:%02x:%02x:%02x", n>>16&0xff, n>>8&0xff, n&0xff),
				IP: "10.78.0.10", Arch: "bios", Stage: events.StageDHCP, Detail: "offer undionly.kpxe"}
			n++
		}
		if _, err := s.AddEvents(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	for n := 0; n < DefaultEventsMax; n += len(batch) {
		fill(n)
	}
	b.ResetTimer()
	n := 0
	for b.Loop() {
		fill(n)
		n += len(batch)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n)/1e3, "µs/event")
}
