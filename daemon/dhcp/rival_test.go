package dhcp

import (
	"net"
	"net/netip"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/pixie-boot/pixie/daemon/linklayer"
)

func TestRivalReply(t *testing.T) {
	own := netip.MustParseAddr("10.77.0.2")
	xid := dhcpv4.TransactionID{1, 2, 3, 4}
	reply := func(mt dhcpv4.MessageType, sid, yiaddr string, mods ...packet) []byte {
		p := request(mt, append([]packet{func(d *dhcpv4.DHCPv4) {
			d.OpCode = dhcpv4.OpcodeBootReply
			d.TransactionID = xid
			d.YourIPAddr = net.ParseIP(yiaddr)
		}}, mods...)...)
		if sid != "" {
			p.UpdateOption(dhcpv4.OptServerIdentifier(net.ParseIP(sid)))
		}
		return p.ToBytes()
	}
	other := dhcpv4.TransactionID{9, 9, 9, 9}
	for _, tc := range []struct {
		name    string
		payload []byte
		xid     *dhcpv4.TransactionID
		want    string // Rival.Server, "" for not a rival
	}{
		{"another server's offer", reply(dhcpv4.MessageTypeOffer, "10.77.0.1", "10.77.0.150"), &xid, "10.77.0.1"},
		{"another server's ACK, seen passively", reply(dhcpv4.MessageTypeAck, "10.77.0.1", "10.77.0.150"), nil, "10.77.0.1"},
		{"a NAK is a DHCP server too", reply(dhcpv4.MessageTypeNak, "10.77.0.1", "0.0.0.0"), nil, "10.77.0.1"},
		{"no server id: the source address", reply(dhcpv4.MessageTypeOffer, "", "10.77.0.150"), nil, "10.77.0.9"},
		{"pixie's own offer", reply(dhcpv4.MessageTypeOffer, "10.77.0.2", "10.77.0.150"), nil, ""},
		{"a proxyDHCP offer (no address) is no DHCP server", reply(dhcpv4.MessageTypeOffer, "10.77.0.5", "0.0.0.0"), nil, ""},
		{"a proxy ACK from port 4011", reply(dhcpv4.MessageTypeAck, "10.77.0.5", "0.0.0.0"), nil, ""},
		{"another transaction during the active check", reply(dhcpv4.MessageTypeOffer, "10.77.0.1", "10.77.0.150"), &other, ""},
		{"a client's request", request(dhcpv4.MessageTypeDiscover).ToBytes(), nil, ""},
		{"garbage", []byte("not dhcp"), nil, ""},
	} {
		d := linklayer.Datagram{SrcMAC: net.HardwareAddr{0x52, 0x54, 0, 0, 0, 1}, Src: netip.MustParseAddrPort("10.77.0.9:67"), Payload: tc.payload}
		r, ok := rivalReply(d, own, tc.xid)
		got := ""
		if ok {
			got = r.Server.String()
		}
		if got != tc.want {
			t.Errorf("%s: rival %q, want %q", tc.name, got, tc.want)
		}
	}
}
