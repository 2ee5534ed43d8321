package netif

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
)

// The BSD routing socket, as xnu speaks it (net/route.h): pixie asks
// RTM_GET for 0.0.0.0/0 and reads the interface index from the answer's
// header. The messages are built and parsed here, apart from the darwin
// socket, so they are tested on any OS; x/net/route does not build on
// Linux. Host byte order: little-endian on every Mac pixie runs on (x86-64,
// arm64).
const (
	rtmVersion = 5 // RTM_VERSION
	rtmGet     = 4 // RTM_GET
	rtaDst     = 0x1
	rtaNetmask = 0x4
	rtaIfp     = 0x10
	rtfUp      = 0x1
	rtfGateway = 0x2
	// sizeof(struct rt_msghdr): 12 header ints/shorts (28 bytes), rtm_use,
	// rtm_inits and struct rt_metrics (14 uint32).
	rtMsghdrLen = 92
	afInet      = 2 // AF_INET
	sockaddrIn  = 16
)

// routeGetDefault is the RTM_GET request for the IPv4 default route:
// destination and netmask 0.0.0.0, asking for the interface (RTA_IFP).
func routeGetDefault(seq, pid int32) []byte {
	b := make([]byte, rtMsghdrLen+2*sockaddrIn)
	le := binary.LittleEndian
	le.PutUint16(b[0:], uint16(len(b)))
	b[2], b[3] = rtmVersion, rtmGet
	le.PutUint32(b[8:], rtfUp|rtfGateway)
	le.PutUint32(b[12:], rtaDst|rtaNetmask|rtaIfp)
	le.PutUint32(b[16:], uint32(pid))
	le.PutUint32(b[20:], uint32(seq))
	for _, off := range []int{rtMsghdrLen, rtMsghdrLen + sockaddrIn} {
		b[off], b[off+1] = sockaddrIn, afInet // sin_len, sin_family; address 0
	}
	return b
}

// errNotOurs: a routing message for someone else (the socket sees every
// change on the system); keep reading.
var errNotOurs = errors.New("not the answer to our request")

// parseRouteReply returns the interface index of the answer to request
// (seq, pid) in b, errNotOurs for any other message, and an error when
// the kernel says there is no default route.
func parseRouteReply(b []byte, seq, pid int32) (int, error) {
	if len(b) < rtMsghdrLen {
		return 0, fmt.Errorf("routing message of %d bytes is too short", len(b))
	}
	le := binary.LittleEndian
	if n := int(le.Uint16(b[0:])); n > len(b) || n < rtMsghdrLen {
		return 0, fmt.Errorf("routing message says %d bytes, has %d", n, len(b))
	}
	if b[2] != rtmVersion || b[3] != rtmGet || int32(le.Uint32(b[16:])) != pid || int32(le.Uint32(b[20:])) != seq {
		return 0, errNotOurs
	}
	if e := le.Uint32(b[24:]); e != 0 {
		return 0, fmt.Errorf("no IPv4 default route: %w", syscall.Errno(e))
	}
	idx := int(le.Uint16(b[4:]))
	if idx == 0 {
		return 0, errors.New("the default route names no interface")
	}
	return idx, nil
}
