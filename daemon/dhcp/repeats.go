package dhcp

import (
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// repeats decides which answers are logged at Info and which become boot
// events. The log and the timeline want one entry per boot step, not one
// per packet:
//   - the same answer to the same machine within a second is the same step:
//     a client stuck in a loop, or a load generator, asks again and again
//     with new transaction IDs, and no machine reboots that fast. It is
//     neither logged at Info nor recorded;
//   - firmware and iPXE retransmit a request (same MAC, same transaction
//     ID) a second or more apart while no answer reaches them. Each
//     retransmit is logged (that pixie answered and the client asked again
//     is what someone debugging a boot needs to see) but the timeline keeps
//     one step for 10 s.
//
// Every packet is still answered and counted. Memory is bounded: past max
// entries the table starts over, which at worst logs or records a repeat
// again.
type repeats struct {
	mu      sync.Mutex
	sameXID time.Duration // a retransmit within this is one timeline step
	anyXID  time.Duration // the same answer within this is not logged either
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
	logged   time.Time
	recorded time.Time
	xid      dhcpv4.TransactionID // of the last recorded answer
}

func newRepeats(sameXID, anyXID time.Duration, max int) *repeats {
	return &repeats{sameXID: sameXID, anyXID: anyXID, max: max, seen: make(map[stepKey]lastAnswer)}
}

// check reports whether the answer to transaction xid is to be logged at
// Info and whether it is a new timeline step, and notes what it decided.
func (r *repeats) check(key stepKey, xid dhcpv4.TransactionID, now time.Time) (logIt, record bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	last, ok := r.seen[key]
	if ok && now.Sub(last.logged) < r.anyXID {
		return false, false
	}
	record = !ok || last.xid != xid || now.Sub(last.recorded) >= r.sameXID
	if !ok && len(r.seen) >= r.max {
		clear(r.seen)
	}
	last.logged = now
	if record {
		last.recorded, last.xid = now, xid
	}
	r.seen[key] = last
	return true, record
}
