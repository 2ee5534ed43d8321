package dhcp

import "golang.org/x/net/ipv4"

// fromOtherInterface reports whether a datagram's control message says it
// arrived on an interface other than served. macOS's IP_BOUND_IF scopes
// only what a socket sends: a socket bound to en0 still receives the
// DISCOVERs broadcast on bridge100 (VMs), Wi-Fi or a Thunderbolt bridge,
// which must not be answered on the served LAN. A message that names no
// interface is kept (nothing to judge by), and so is everything when
// served is 0 (a loopback test server).
func fromOtherInterface(oob []byte, served int) bool {
	if served == 0 || len(oob) == 0 {
		return false
	}
	var cm ipv4.ControlMessage
	if err := cm.Parse(oob); err != nil || cm.IfIndex == 0 {
		return false
	}
	return cm.IfIndex != served
}
