package dhcp

import (
	"net"
	"net/netip"
	"testing"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
)

// Only the probed address's answer to this very echo counts: a raw ICMP
// socket sees every ICMP packet the host gets.
func TestEchoReplyFrom(t *testing.T) {
	msg := func(typ icmp.Type, id, seq int) []byte {
		b, err := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("x")}}).Marshal(nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ip := netip.MustParseAddr("10.0.0.9")
	from := &net.IPAddr{IP: net.IPv4(10, 0, 0, 9)}
	other := &net.IPAddr{IP: net.IPv4(10, 0, 0, 8)}
	for _, tt := range []struct {
		name string
		b    []byte
		from net.Addr
		want bool
	}{
		{"the answer", msg(ipv4.ICMPTypeEchoReply, 7, 3), from, true},
		{"another host", msg(ipv4.ICMPTypeEchoReply, 7, 3), other, false},
		{"another id", msg(ipv4.ICMPTypeEchoReply, 8, 3), from, false},
		{"an older seq", msg(ipv4.ICMPTypeEchoReply, 7, 2), from, false},
		{"a request, not a reply", msg(ipv4.ICMPTypeEcho, 7, 3), from, false},
		{"garbage", []byte{0, 0}, from, false},
		{"not an IP address", msg(ipv4.ICMPTypeEchoReply, 7, 3), &net.UDPAddr{IP: net.IPv4(10, 0, 0, 9)}, false},
	} {
		if got := echoReplyFrom(tt.b, tt.from, ip, 7, 3); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
