package dhcp

import (
	"fmt"
	"testing"
	"time"
)

func TestRepeatsRecordsOneEventPerExchange(t *testing.T) {
	r := newRepeats(5*time.Second, 3)
	t0 := time.Unix(1000, 0)
	if !r.first("a", t0) {
		t.Fatal("first sight of a: want true")
	}
	if r.first("a", t0.Add(2*time.Second)) {
		t.Error("retransmit of a within the window: want false")
	}
	if !r.first("b", t0.Add(2*time.Second)) {
		t.Error("another exchange: want true")
	}
	if !r.first("a", t0.Add(8*time.Second)) {
		t.Error("a after the window: want true")
	}
	for i := 0; i < 100; i++ {
		r.first(fmt.Sprint("flood", i), t0)
	}
	if len(r.seen) > 3 {
		t.Errorf("table grew to %d entries, max 3", len(r.seen))
	}
}
