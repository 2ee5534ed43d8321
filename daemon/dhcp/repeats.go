package dhcp

import (
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// repeats decides which answers become boot events. The timeline wants one
// entry per boot step, not one per packet:
//   - firmware and iPXE retransmit a request (same MAC, same transaction
//     ID) while the LAN's DHCP server is slow, for up to several seconds;
//   - a client stuck in a loop, or a load generator, asks again and again
//     with new transaction IDs; the same answer to the same machine within
//     a second is the same step (no machine reboots that fast).
//
// Every packet is still answered, counted and logged; only the event is
// skipped. Memory is bounded: past max entries the table starts over,
// which at worst records a repeat again.
type repeats struct {
	mu      sync.Mutex
	sameXID time.Duration // a retransmit within this is a repeat
	anyXID  time.Duration // the same answer within this is a repeat
	max     int
	seen    map[stepKey]lastAnswer
}

// stepKey is a boot step: a machine given an answer on a port.
type stepKey struct {
	mac   string
	svc   Service
	reply dhcpv4.MessageType
	file  string
	class string
	ipxe  bool
}

type lastAnswer struct {
	at  time.Time
	xid dhcpv4.TransactionID
}

func newRepeats(sameXID, anyXID time.Duration, max int) *repeats {
	return &repeats{sameXID: sameXID, anyXID: anyXID, max: max, seen: make(map[stepKey]lastAnswer)}
}

// first reports whether the answer to transaction xid is a new step, and
// notes it as recorded now.
func (r *repeats) first(key stepKey, xid dhcpv4.TransactionID, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if last, ok := r.seen[key]; ok {
		age := now.Sub(last.at)
		if age < r.anyXID || last.xid == xid && age < r.sameXID {
			return false
		}
	}
	if len(r.seen) >= r.max {
		clear(r.seen)
	}
	r.seen[key] = lastAnswer{at: now, xid: xid}
	return true
}
