package dhcp

import (
	"fmt"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

func TestRepeatsOneEntryPerStep(t *testing.T) {
	r := newRepeats(10*time.Second, time.Second, 3)
	t0 := time.Unix(1000, 0)
	offer := stepKey{mac: "52:54:00:12:34:56", svc: ServiceDHCP, reply: dhcpv4.MessageTypeOffer, file: FileEFIx64, class: ClassPXE}
	xid1, xid2 := dhcpv4.TransactionID{1}, dhcpv4.TransactionID{2}
	steps := []struct {
		what        string
		key         stepKey
		xid         dhcpv4.TransactionID
		after       time.Duration
		log, record bool
	}{
		{"first sight", offer, xid1, 0, true, true},
		{"new xid, same answer, within 1 s: a loop or a load generator", offer, xid2, 500 * time.Millisecond, false, false},
		{"retransmit 4 s later: logged, one timeline step", offer, xid1, 4 * time.Second, true, false},
		{"a repeat within 1 s of that retransmit", offer, xid1, 4500 * time.Millisecond, false, false},
		{"retransmit 12 s after the first: a step again", offer, xid1, 12 * time.Second, true, true},
		{"new xid 2 s later: a new exchange", offer, xid2, 14 * time.Second, true, true},
		{"another answer to the same machine at once", stepKey{mac: offer.mac, svc: ServiceDHCP, reply: dhcpv4.MessageTypeOffer, file: "http://x/boot.ipxe", ipxe: true}, xid2, 14 * time.Second, true, true},
		{"the ACK on 4011 at once", stepKey{mac: offer.mac, svc: ServicePXE, reply: dhcpv4.MessageTypeAck, file: FileEFIx64, class: ClassPXE}, xid2, 14 * time.Second, true, true},
	}
	for _, s := range steps {
		if log, record := r.check(s.key, s.xid, t0.Add(s.after)); log != s.log || record != s.record {
			t.Errorf("%s: log, record = %v, %v; want %v, %v", s.what, log, record, s.log, s.record)
		}
	}
	for i := range 100 {
		r.check(stepKey{mac: fmt.Sprint("flood", i)}, xid1, t0)
	}
	if len(r.seen) > 3 {
		t.Errorf("table grew to %d entries, max 3", len(r.seen))
	}
}
