package udpstat

import (
	"context"
	"encoding/binary"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

// udpstatBytes lays out a struct udpstat as xnu's udp_var.h declares it
// (22 u_int32_t fields): built from the header, not captured on a Mac,
// with a distinct value in every field so a wrong offset shows.
func udpstatBytes(order binary.ByteOrder, fullsock uint32) []byte {
	b := make([]byte, 22*4)
	for i := range 22 {
		order.PutUint32(b[i*4:], uint32(1000+i))
	}
	order.PutUint32(b[6*4:], fullsock)
	return b
}

func TestParseDarwin(t *testing.T) {
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		st, err := ParseDarwin(udpstatBytes(order, 77), order)
		if err != nil {
			t.Fatal(err)
		}
		if want := (Stats{Received: 1000, NoPort: 1004, FullSocket: 77}); st != want {
			t.Errorf("%v: %+v, want %+v", order, st, want)
		}
	}
	// An older, shorter struct still has the first fields.
	if st, err := ParseDarwin(udpstatBytes(binary.LittleEndian, 5)[:28], binary.LittleEndian); err != nil || st.FullSocket != 5 {
		t.Errorf("28-byte struct: %+v, %v", st, err)
	}
	if _, err := ParseDarwin(make([]byte, 27), binary.LittleEndian); err == nil || !strings.Contains(err.Error(), "27 bytes") {
		t.Errorf("short struct: %v", err)
	}
}

func TestDelta(t *testing.T) {
	var d delta
	steps := []struct{ n, want uint64 }{
		{500, 0}, // the baseline: drops before pixie are not counted
		{500, 0},
		{512, 12},
		{math.MaxUint32 - 1, math.MaxUint32 - 513},
		{3, 5}, // wrapped past 2^32-1
	}
	for _, s := range steps {
		if got := d.next(s.n); got != s.want {
			t.Errorf("next(%d) = %d, want %d", s.n, got, s.want)
		}
	}
}

func TestWatch(t *testing.T) {
	var mu sync.Mutex
	counts := []uint64{100, 100, 103, 110}
	read := func() (uint64, bool) {
		mu.Lock()
		defer mu.Unlock()
		n := counts[0]
		if len(counts) > 1 {
			counts = counts[1:]
		}
		return n, true
	}
	got := make(chan uint64, 8)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Watch(ctx, time.Millisecond, read, func(n uint64) { got <- n })
	}()
	var total uint64
	for total < 10 {
		select {
		case n := <-got:
			total += n
		case <-time.After(10 * time.Second):
			t.Fatalf("reported %d of 10 drops", total)
		}
	}
	cancel()
	<-done
	if total != 10 {
		t.Errorf("reported %d drops, want 10", total)
	}

	// Not available: Watch returns at once and reports nothing.
	finished := make(chan struct{})
	go func() {
		Watch(context.Background(), time.Millisecond, func() (uint64, bool) { return 0, false }, func(uint64) { t.Error("reported without a count") })
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return without a count")
	}
}
