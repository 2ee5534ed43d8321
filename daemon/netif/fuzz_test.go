package netif

import (
	"encoding/binary"
	"testing"
)

// FuzzParseRouteReply feeds routing-socket messages to the RTM_GET reply
// parser: the socket hands it whatever any process on the system did to
// the routing table, so no message may panic it, and an index comes back
// only from a message that is the answer to our request.
func FuzzParseRouteReply(f *testing.F) {
	const seq, pid = 7, 4242
	reply := routeGetDefault(seq, pid)
	binary.LittleEndian.PutUint16(reply[4:], 5) // rtm_index
	f.Add(reply)
	noRoute := routeGetDefault(seq, pid)
	binary.LittleEndian.PutUint32(noRoute[24:], 3) // rtm_errno ESRCH
	f.Add(noRoute)
	f.Add(reply[:rtMsghdrLen-1])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		idx, err := parseRouteReply(b, seq, pid)
		if err != nil {
			if idx != 0 {
				t.Fatalf("error %v with index %d", err, idx)
			}
			return
		}
		if idx <= 0 {
			t.Fatalf("no error and index %d", idx)
		}
		le := binary.LittleEndian
		if int32(le.Uint32(b[16:])) != pid || int32(le.Uint32(b[20:])) != seq {
			t.Fatalf("index %d from a message that is not our answer", idx)
		}
	})
}
