package dhcp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"

	"github.com/pixie-boot/pixie/daemon/hwaddr"
	"github.com/pixie-boot/pixie/daemon/linklayer"
)

// Finding out whether another DHCP server answers on the link. The active
// check broadcasts one DISCOVER from pixie's own MAC and listens for
// offers; it never REQUESTs what it is offered, so no server binds a lease
// for it (an offer is only held for a moment). The passive watch reads the
// replies other servers send to clients on port 68. Both read raw frames,
// so they need no port of their own and see replies sent to any address.

// Rival is another DHCP server seen on the link.
type Rival struct {
	// Server is its server identifier (option 54), else the packet's
	// source address.
	Server netip.Addr
	// MAC is the Ethernet source of its reply.
	MAC string
	// Client is the MAC its reply was for, Offered the address it gave
	// (invalid for a NAK or an INFORM's ACK).
	Client  string
	Offered netip.Addr
	Type    dhcpv4.MessageType
}

// String says who it is, for status and events: "10.77.0.1
// (52:54:00:aa:bb:cc)".
func (r Rival) String() string {
	return r.Server.String() + " (" + r.MAC + ")"
}

// probeDiscover is the active check's DISCOVER from mac: broadcast flag
// set (the reply must reach a host with no address on the way), a
// parameter request list so servers answer as to any client, and no
// requested address, so no server thinks it is being asked to confirm a
// lease.
func probeDiscover(mac net.HardwareAddr, xid dhcpv4.TransactionID) *dhcpv4.DHCPv4 {
	d := &dhcpv4.DHCPv4{
		OpCode: dhcpv4.OpcodeBootRequest, HWType: iana.HWTypeEthernet, TransactionID: xid,
		ClientIPAddr: net.IPv4zero, YourIPAddr: net.IPv4zero, ServerIPAddr: net.IPv4zero, GatewayIPAddr: net.IPv4zero,
		ClientHWAddr: mac, Options: dhcpv4.Options{},
	}
	d.SetBroadcast()
	d.UpdateOption(dhcpv4.OptMessageType(dhcpv4.MessageTypeDiscover))
	d.UpdateOption(dhcpv4.OptParameterRequestList(dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer))
	return d
}

// rivalReply decides whether a datagram sent to port 68 is another DHCP
// server's reply: a BOOTREPLY OFFER, ACK or NAK whose server is not own.
// xid, when set, is the only transaction accepted (the active check).
func rivalReply(d linklayer.Datagram, own netip.Addr, xid *dhcpv4.TransactionID) (Rival, bool) {
	p, err := parsePacket(d.Payload)
	if err != nil || p.OpCode != dhcpv4.OpcodeBootReply {
		return Rival{}, false
	}
	if xid != nil && p.TransactionID != *xid {
		return Rival{}, false
	}
	mt := p.MessageType()
	if mt != dhcpv4.MessageTypeOffer && mt != dhcpv4.MessageTypeAck && mt != dhcpv4.MessageTypeNak {
		return Rival{}, false
	}
	r := Rival{MAC: hwaddr.String(d.SrcMAC), Client: hwaddr.String(p.ClientHWAddr), Type: mt}
	if sid, ok := netip.AddrFromSlice(p.ServerIdentifier().To4()); ok && !sid.IsUnspecified() {
		r.Server = sid
	} else {
		r.Server = d.Src.Addr()
	}
	if r.Server == own {
		return Rival{}, false
	}
	if mt != dhcpv4.MessageTypeNak {
		// A proxyDHCP offer or ACK (another PXE server, such as dnsmasq
		// in proxy mode, or its port 4011 answers) hands out no
		// address: it is no rival to full mode and no DHCP server for
		// the machines.
		yi, _ := netip.AddrFromSlice(p.YourIPAddr.To4())
		if !yi.IsValid() || yi.IsUnspecified() {
			return Rival{}, false
		}
		r.Offered = yi
	}
	return r, true
}

// openLink68 opens a link-layer socket on iface that receives frames to
// UDP port 68 (a fake in tests).
type openLinkFunc func(iface string, ports ...uint16) (linkSocket, error)

func defaultOpenLink(iface string, ports ...uint16) (linkSocket, error) {
	return linklayer.Open(iface, ports...)
}

// CheckRivals broadcasts a DISCOVER from iface's own MAC (again at half
// time) and returns the DHCP servers that offered an address within wait
// (none: no DHCP server answered). own is pixie's address, whose answers
// are not counted. Give it seconds: dnsmasq, for one, pings an address for
// a moment before it offers it.
func CheckRivals(ctx context.Context, iface string, own netip.Addr, wait time.Duration) ([]Rival, error) {
	return checkRivals(ctx, defaultOpenLink, iface, own, wait)
}

func checkRivals(ctx context.Context, open openLinkFunc, iface string, own netip.Addr, wait time.Duration) ([]Rival, error) {
	sock, err := open(iface, dhcpv4.ClientPort)
	if err != nil {
		return nil, fmt.Errorf("checking for other DHCP servers on %s: %w", iface, err)
	}
	var closeOnce sync.Once
	closeSock := func() { closeOnce.Do(func() { sock.Close() }) }
	defer closeSock()
	var xid dhcpv4.TransactionID
	if _, err := rand.Read(xid[:]); err != nil {
		return nil, err
	}
	mac := sock.HardwareAddr()
	frame, err := linklayer.Append(make([]byte, 0, maxFrame), linklayer.Header{
		SrcMAC: mac, DstMAC: net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		Src: netip.AddrPortFrom(netip.IPv4Unspecified(), dhcpv4.ClientPort),
		Dst: netip.AddrPortFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), dhcpv4.ServerPort),
	}, probeDiscover(mac, xid).ToBytes())
	if err != nil {
		return nil, err
	}
	if err := sock.Write(frame); err != nil {
		return nil, fmt.Errorf("checking for other DHCP servers on %s: sending a DISCOVER: %w", iface, err)
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	go func() {
		// Once more halfway, as a client retransmits: a lost broadcast
		// must not read as "no server".
		select {
		case <-ctx.Done():
		case <-time.After(wait / 2):
			_ = sock.Write(frame)
			<-ctx.Done()
		}
		closeSock() // ends the blocked read
	}()
	seen := map[netip.Addr]bool{}
	var out []Rival
	frames := make([]linklayer.RawFrame, 4)
	for i := range frames {
		frames[i].Buf = make([]byte, maxPacket+100)
	}
	for {
		n, err := sock.Read(frames)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return out, nil
			}
			return out, fmt.Errorf("checking for other DHCP servers on %s: %w", iface, err)
		}
		for _, f := range frames[:n] {
			d, refused := linklayer.Decode(f)
			if refused != linklayer.Accepted {
				continue
			}
			if r, ok := rivalReply(d, own, &xid); ok && !seen[r.Server] {
				seen[r.Server] = true
				out = append(out, r)
			}
		}
	}
}

// WatchRivals reads the DHCP replies on iface until ctx ends and calls
// seen for each one from a server other than own. It returns nil when ctx
// ends, an error when the socket cannot be opened or fails.
func WatchRivals(ctx context.Context, iface string, own netip.Addr, seen func(Rival)) error {
	return watchRivals(ctx, defaultOpenLink, iface, own, seen)
}

func watchRivals(ctx context.Context, open openLinkFunc, iface string, own netip.Addr, seen func(Rival)) error {
	sock, err := open(iface, dhcpv4.ClientPort)
	if err != nil {
		return fmt.Errorf("watching for other DHCP servers on %s: %w", iface, err)
	}
	stop := context.AfterFunc(ctx, func() { sock.Close() })
	defer stop()
	defer sock.Close()
	frames := make([]linklayer.RawFrame, 8)
	for i := range frames {
		frames[i].Buf = make([]byte, maxPacket+100)
	}
	for {
		n, err := sock.Read(frames)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("watching for other DHCP servers on %s: %w", iface, err)
		}
		for _, f := range frames[:n] {
			if d, refused := linklayer.Decode(f); refused == linklayer.Accepted {
				if r, ok := rivalReply(d, own, nil); ok {
					seen(r)
				}
			}
		}
	}
}

// DefaultRivalWait is how long the active check listens: dnsmasq's ping
// before an offer takes up to about three seconds.
const DefaultRivalWait = 4 * time.Second
