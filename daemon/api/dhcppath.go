package api

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// DHCPPath says in one line how the daemon hears and answers proxyDHCP:
// over ordinary UDP sockets, or over the link layer (raw Ethernet frames)
// and why, as Status.DHCPLinkLayer carries it. It is what `pixie status`,
// `pixie doctor` and the menu-bar app show.
func (s Status) DHCPPath() string {
	if s.DHCPLinkLayer != "" {
		return s.DHCPLinkLayer
	}
	return "proxyDHCP over UDP sockets (the ports are pixie's alone)"
}

// LinkLayerShort is the link-layer note cut for a tooltip: "proxyDHCP
// over the link layer (port 67 is held by PID 1 (launchd))", or "" when
// proxyDHCP runs over UDP sockets.
func (s Status) LinkLayerShort() string {
	n := s.DHCPLinkLayer
	if n == "" {
		return ""
	}
	// The note reads "proxyDHCP over the link layer: <why>[; <why>]":
	// keep the first reason, without the holder's long explanation.
	head, why, ok := strings.Cut(n, ": ")
	if !ok {
		return n
	}
	why, _, _ = strings.Cut(why, "; ")
	why, _, _ = strings.Cut(why, ", for bootpd")
	return head + " (" + why + ")"
}

// DHCPDrop is one kind of DHCP packet the daemon did not answer before
// deciding anything about it, counted, in words.
type DHCPDrop struct {
	Counter string `json:"counter"`
	Count   uint64 `json:"count"`
	What    string `json:"what"`
}

// dhcpDropWords say what each of the DHCP server's drop counters means,
// for a person (daemon/dhcp names them).
var dhcpDropWords = map[string]string{
	"dhcp.dropped.other-interface":         "arrived on another interface (a VM bridge, Wi-Fi, a Thunderbolt bridge) and were not answered",
	"dhcp.dropped.kernel":                  "were dropped by the kernel before pixie read them: its receive buffer was full (a boot storm)",
	"dhcp.dropped.too-large":               "were larger than a DHCP packet pixie reads",
	"dhcp.dropped.malformed":               "were not valid DHCP",
	"dhcp.ignored.request-for-port-holder": "were DHCPREQUESTs for the DHCP server holding the port on this host, left to it",
	"dhcp.sent-link-fallback":              "broadcast replies were sent again over the link layer after the socket refused them",
	"dhcp.send-failed":                     "replies could not be sent",
	"kernel.udp.dropped.full-socket":       "UDP datagrams were dropped by the kernel on full socket buffers, host-wide (any program's)",
}

// DHCPDrops lists the non-zero DHCP drop counters in counters with what
// each means; raw frames refused on the link-layer path are summed into
// one entry ("dhcp.dropped.frame-*").
func DHCPDrops(counters map[string]uint64) []DHCPDrop {
	var out []DHCPDrop
	var frames uint64
	var frameWhy []string
	for _, k := range slices.Sorted(maps.Keys(counters)) {
		n := counters[k]
		if n == 0 {
			continue
		}
		if why, ok := strings.CutPrefix(k, "dhcp.dropped.frame-"); ok {
			frames += n
			frameWhy = append(frameWhy, fmt.Sprintf("%s %d", why, n))
			continue
		}
		if what, ok := dhcpDropWords[k]; ok {
			out = append(out, DHCPDrop{Counter: k, Count: n, What: what})
		}
	}
	if frames > 0 {
		out = append(out, DHCPDrop{Counter: "dhcp.dropped.frame-*", Count: frames,
			What: "link-layer frames were refused before DHCP (" + strings.Join(frameWhy, ", ") + ")"})
	}
	return out
}

// LinkLayerOn reports whether the daemon answers port over the link layer
// rather than a UDP socket bound to it, from the note in DHCPLinkLayer
// ("... port 67 is held by ...", "... port 4011 as asked ...").
func (s Status) LinkLayerOn(port int) bool {
	return port > 0 && strings.Contains(s.DHCPLinkLayer+" ", fmt.Sprintf("port %d ", port))
}
