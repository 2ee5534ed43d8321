package tftp

// window decides which DATA blocks to send, RFC 7440 style: up to size
// blocks go out before the sender waits for the ACK of the last; an ACK of
// an earlier block means the client lost the one after it, so sending
// restarts there. A window of 1 is RFC 1350's lock-step.
//
// Block numbers here count from 1 without wrapping; on the wire they are
// the low 16 bits (block 65536 is sent as 0, as tftp-hpa and iPXE expect).
// The decisions are pure; the transfer loop does the I/O.
type window struct {
	size  uint64 // blocks per window, ≥ 1
	acked uint64 // highest block the client acknowledged; 0 before any
	sent  uint64 // highest block sent
	last  uint64 // the file's final block, once known (0: not yet)
	// dupResent is set once a duplicate ACK of acked restarted the
	// window; further duplicates of the same ACK are ignored, or every
	// copy would double the traffic (the Sorcerer's Apprentice bug).
	dupResent bool
}

// span is a run of blocks to send, from..to inclusive; from == 0 is none.
type span struct{ from, to uint64 }

// sendFrom returns the window starting at block from and marks it sent.
func (w *window) sendFrom(from uint64) span {
	to := from + w.size - 1
	if w.last != 0 && to > w.last {
		to = w.last
	}
	if from > to {
		return span{}
	}
	w.sent = to
	return span{from, to}
}

// setLast records the file's final block, found while reading it; a
// window already marked sent past it ends there.
func (w *window) setLast(k uint64) {
	w.last = k
	w.sent = min(w.sent, k)
}

// start is the first window, once the client accepted the options (or
// at once when there were none).
func (w *window) start() span { return w.sendFrom(1) }

// timeout is what to send when no ACK came in time: the whole window
// after the last acknowledged block.
func (w *window) timeout() span { return w.sendFrom(w.acked + 1) }

// ack takes an ACK of wire block b. It returns what to send next and
// whether the client now has the whole file; progress says the ACK moved
// the window (the caller resets its retry count).
func (w *window) ack(b uint16) (next span, done, progress bool) {
	// The ACK names a block between acked and sent; anything else is a
	// stale duplicate from before a restart, or nonsense.
	delta := uint64(b - uint16(w.acked))
	if delta > w.sent-w.acked {
		return span{}, false, false
	}
	k := w.acked + delta
	if k > w.acked {
		w.acked, w.dupResent = k, false
		if w.last != 0 && k == w.last {
			return span{}, true, true
		}
		// k == sent: the window arrived whole, send the next one.
		// k < sent: the client lost block k+1; restart there.
		return w.sendFrom(k + 1), false, true
	}
	// A duplicate ACK of acked. In lock-step it is an old copy that must
	// not be answered; with a window the client says block acked+1 was
	// lost, so restart once.
	if w.size == 1 || w.dupResent || w.sent == w.acked {
		return span{}, false, false
	}
	w.dupResent = true
	return w.sendFrom(w.acked + 1), false, false
}
