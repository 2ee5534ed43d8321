package dhcp

import (
	"fmt"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

func TestRepeatsRecordsOneEventPerStep(t *testing.T) {
	r := newRepeats(5*time.Second, time.Second, 3)
	t0 := time.Unix(1000, 0)
	offer := stepKey{mac: "52:54:00:12:34:56", svc: ServiceDHCP, reply: dhcpv4.MessageTypeOffer, file: FileEFIx64, class: ClassPXE}
	xid1, xid2 := dhcpv4.TransactionID{1}, dhcpv4.TransactionID{2}
	steps := []struct {
		what  string
		key   stepKey
		xid   dhcpv4.TransactionID
		after time.Duration
		want  bool
	}{
		{"first sight", offer, xid1, 0, true},
		{"new xid, same answer, within 1 s", offer, xid2, 500 * time.Millisecond, false},
		{"retransmit within 5 s", offer, xid1, 4 * time.Second, false},
		{"new xid after 1 s", offer, xid2, 4500 * time.Millisecond, true},
		{"retransmit of it within 5 s", offer, xid2, 6 * time.Second, false},
		{"retransmit of it after 5 s", offer, xid2, 11500 * time.Millisecond, true},
		{"another answer to the same machine at once", stepKey{mac: offer.mac, svc: ServiceDHCP, reply: dhcpv4.MessageTypeOffer, file: "http://x/boot.ipxe", ipxe: true}, xid2, 11500 * time.Millisecond, true},
		{"the ACK on 4011 at once", stepKey{mac: offer.mac, svc: ServicePXE, reply: dhcpv4.MessageTypeAck, file: FileEFIx64, class: ClassPXE}, xid2, 11500 * time.Millisecond, true},
	}
	for _, s := range steps {
		if got := r.first(s.key, s.xid, t0.Add(s.after)); got != s.want {
			t.Errorf("%s: first = %v, want %v", s.what, got, s.want)
		}
	}
	for i := range 100 {
		r.first(stepKey{mac: fmt.Sprint("flood", i)}, xid1, t0)
	}
	if len(r.seen) > 3 {
		t.Errorf("table grew to %d entries, max 3", len(r.seen))
	}
}
