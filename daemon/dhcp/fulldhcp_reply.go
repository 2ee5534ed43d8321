package dhcp

import (
	"net"
	"net/netip"
	"strings"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// Full-DHCP mode's replies: what DecideFull decided, on the wire.

// nak refuses a REQUEST (RFC 2131 table 3: no yiaddr, no options but the
// server id and a message).
func nak(req *dhcpv4.DHCPv4, cfg FullConfig, d FullDecision, msg string) (*dhcpv4.DHCPv4, FullDecision) {
	d.Reply, d.Reason = dhcpv4.MessageTypeNak, msg
	server := net.IP(cfg.Boot.ServerIP.AsSlice())
	resp := &dhcpv4.DHCPv4{
		OpCode: dhcpv4.OpcodeBootReply, HWType: req.HWType, TransactionID: req.TransactionID,
		Flags: req.Flags, ClientIPAddr: net.IPv4zero, YourIPAddr: net.IPv4zero, ServerIPAddr: net.IPv4zero,
		GatewayIPAddr: req.GatewayIPAddr, ClientHWAddr: req.ClientHWAddr, Options: make(dhcpv4.Options, 3),
	}
	if resp.GatewayIPAddr == nil {
		resp.GatewayIPAddr = net.IPv4zero
	}
	resp.SetBroadcast() // the client may have no address it can receive on
	resp.UpdateOption(dhcpv4.OptMessageType(dhcpv4.MessageTypeNak))
	resp.UpdateOption(dhcpv4.OptServerIdentifier(server))
	resp.UpdateOption(dhcpv4.OptMessage(msg))
	return resp, d
}

// buildFull makes an OFFER or ACK handing out d.IP (or, for INFORM, only
// options to ciaddr): the address options, pixie as next server, and for
// PXE and HTTP boot clients the same boot fields a proxy offer carries, so
// one reply is all the firmware needs.
func buildFull(req *dhcpv4.DHCPv4, cfg FullConfig, d *FullDecision, ciaddr netip.Addr, res *Reservation, pool Pool) *dhcpv4.DHCPv4 {
	vendorClass := req.ClassIdentifier()
	boot := strings.HasPrefix(vendorClass, ClassPXE) || strings.HasPrefix(vendorClass, ClassHTTP)
	if boot {
		d.Class = ClassPXE
		if strings.HasPrefix(vendorClass, ClassHTTP) {
			d.Class = ClassHTTP
		}
		if reason := bootFields(req, vendorClass, cfg.Boot, &d.Decision); reason != "" {
			// The address is still given: the client can boot from
			// elsewhere, and a booted OS needs it anyway.
			d.Class, d.BootFile, d.Reason = "", "", reason
			boot = false
		}
	}
	server := net.IP(cfg.Boot.ServerIP.AsSlice())
	resp := &dhcpv4.DHCPv4{
		OpCode:         dhcpv4.OpcodeBootReply,
		HWType:         req.HWType,
		TransactionID:  req.TransactionID,
		Flags:          req.Flags,
		ClientIPAddr:   net.IPv4zero,
		YourIPAddr:     net.IPv4zero,
		ServerIPAddr:   server, // next server: GRUB and old ROMs find pixie here
		GatewayIPAddr:  req.GatewayIPAddr,
		ClientHWAddr:   req.ClientHWAddr,
		ServerHostName: cfg.Boot.ServerIP.String(),
		BootFileName:   d.BootFile,
		Options:        make(dhcpv4.Options, 12),
	}
	if resp.GatewayIPAddr == nil {
		resp.GatewayIPAddr = net.IPv4zero
	}
	if d.IP.IsValid() {
		resp.YourIPAddr = net.IP(d.IP.AsSlice())
	}
	if ciaddr.IsValid() {
		resp.ClientIPAddr = net.IP(ciaddr.AsSlice())
	} else if c := req.ClientIPAddr.To4(); c != nil && d.Reply == dhcpv4.MessageTypeAck {
		resp.ClientIPAddr = c // RFC 2131 table 3: an ACK keeps ciaddr
	}
	resp.UpdateOption(dhcpv4.OptMessageType(d.Reply))
	resp.UpdateOption(dhcpv4.OptServerIdentifier(server))
	resp.UpdateOption(dhcpv4.OptSubnetMask(replyMask(pool, res)))
	routers, dns := cfg.Router, cfg.DNS
	if res != nil && res.Gateway.IsValid() {
		routers = []netip.Addr{res.Gateway}
	}
	if res != nil && len(res.DNS) > 0 {
		dns = res.DNS
	}
	if len(routers) > 0 {
		resp.UpdateOption(dhcpv4.OptRouter(ips(routers)...))
	}
	if len(dns) > 0 {
		resp.UpdateOption(dhcpv4.OptDNS(ips(dns)...))
	}
	if d.Exchange != ExchangeInform {
		lt := cfg.LeaseTime
		resp.UpdateOption(dhcpv4.OptIPAddressLeaseTime(lt))
		resp.UpdateOption(dhcpv4.OptRenewTimeValue(lt / 2))
		resp.UpdateOption(dhcpv4.OptRebindingTimeValue(lt * 7 / 8))
	}
	if boot {
		addBootOptions(resp, req, d.Decision)
	}
	echoOptions(resp, req)
	return resp
}

// replyMask is the subnet mask for a reply: the reservation's own prefix
// when it has one, else the pool's subnet.
func replyMask(pool Pool, res *Reservation) net.IPMask {
	if res != nil && res.Prefix > 0 && res.Prefix <= 32 {
		return net.CIDRMask(res.Prefix, 32)
	}
	return net.IPMask(pool.Mask())
}

// ips converts addresses for the library's option constructors.
func ips(as []netip.Addr) []net.IP {
	out := make([]net.IP, len(as))
	for i, a := range as {
		out[i] = net.IP(a.AsSlice())
	}
	return out
}
