package tftp

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestWindow drives the window decisions through ACK and timeout
// sequences: each step is an event and what the sender must do.
func TestWindow(t *testing.T) {
	type step struct {
		ev       string // "start", "ack", "timeout", "last" (the reader found the final block)
		block    uint64 // ack: the wire block is its low 16 bits; last: the final block
		want     span
		done     bool
		progress bool
	}
	tests := []struct {
		name  string
		size  uint64
		acked uint64 // start here (for wrap-around)
		steps []step
	}{
		{"lock-step", 1, 0, []step{
			{ev: "start", want: span{1, 1}},
			{ev: "ack", block: 1, want: span{2, 2}, progress: true},
			{ev: "ack", block: 2, want: span{3, 3}, progress: true},
			{ev: "last", block: 3},
			{ev: "ack", block: 3, done: true, progress: true},
		}},
		{"lock-step ignores a duplicate ACK (Sorcerer's Apprentice)", 1, 0, []step{
			{ev: "start", want: span{1, 1}},
			{ev: "ack", block: 1, want: span{2, 2}, progress: true},
			{ev: "ack", block: 1},
			{ev: "timeout", want: span{2, 2}},
			{ev: "ack", block: 2, want: span{3, 3}, progress: true},
		}},
		{"lock-step ignores an ACK of a block not sent", 1, 0, []step{
			{ev: "start", want: span{1, 1}},
			{ev: "ack", block: 2},
			{ev: "ack", block: 0},
			{ev: "ack", block: 1, want: span{2, 2}, progress: true},
		}},
		{"window of 4, no loss", 4, 0, []step{
			{ev: "start", want: span{1, 4}},
			{ev: "ack", block: 4, want: span{5, 8}, progress: true},
			{ev: "last", block: 10},
			{ev: "ack", block: 8, want: span{9, 10}, progress: true},
			{ev: "ack", block: 10, done: true, progress: true},
		}},
		{"window restarts after the last block the client has", 4, 0, []step{
			{ev: "start", want: span{1, 4}},
			{ev: "ack", block: 2, want: span{3, 6}, progress: true}, // block 3 was lost
			{ev: "ack", block: 6, want: span{7, 10}, progress: true},
		}},
		{"window: a duplicate ACK restarts once", 4, 0, []step{
			{ev: "start", want: span{1, 4}},
			{ev: "ack", block: 4, want: span{5, 8}, progress: true},
			{ev: "ack", block: 4, want: span{5, 8}}, // block 5 was lost
			{ev: "ack", block: 4},                   // the same loss, already answered
			{ev: "timeout", want: span{5, 8}},
			{ev: "ack", block: 8, want: span{9, 12}, progress: true},
			{ev: "ack", block: 8, want: span{9, 12}}, // a new loss: restart again
		}},
		{"window: an ACK before the window is stale", 4, 0, []step{
			{ev: "start", want: span{1, 4}},
			{ev: "ack", block: 4, want: span{5, 8}, progress: true},
			{ev: "ack", block: 3},
			{ev: "ack", block: 9},
		}},
		{"window larger than the file", 8, 0, []step{
			{ev: "last", block: 3},
			{ev: "start", want: span{1, 3}},
			{ev: "ack", block: 3, done: true, progress: true},
		}},
		{"final block found while the window is in flight", 4, 0, []step{
			{ev: "start", want: span{1, 4}},
			{ev: "last", block: 2},
			{ev: "ack", block: 3}, // never sent as far as the window knows
			{ev: "ack", block: 2, done: true, progress: true},
		}},
		{"block numbers wrap at 16 bits", 4, 65534, []step{
			{ev: "timeout", want: span{65535, 65538}},
			{ev: "ack", block: 0, want: span{65537, 65540}, progress: true}, // 65536 on the wire is 0
			{ev: "ack", block: 4, want: span{65541, 65544}, progress: true},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := window{size: tc.size, acked: tc.acked, sent: tc.acked}
			for i, st := range tc.steps {
				var got span
				var done, progress bool
				switch st.ev {
				case "start":
					got = w.start()
				case "timeout":
					got = w.timeout()
				case "ack":
					got, done, progress = w.ack(uint16(st.block))
				case "last":
					w.setLast(st.block)
					continue
				}
				if diff := cmp.Diff(st.want, got, cmp.AllowUnexported(span{})); diff != "" || done != st.done || progress != st.progress {
					t.Fatalf("step %d (%s %d): span %v done %v progress %v; want %v %v %v (window %+v)",
						i, st.ev, st.block, got, done, progress, st.want, st.done, st.progress, w)
				}
			}
		})
	}
}
