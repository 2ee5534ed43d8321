package storm

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
)

// Prober is one PXE client that asks pixie for a proxy offer again and
// again, to see how quickly it is answered while something else goes on.
type Prober struct {
	r *runner
	c *client
}

// NewProber opens the DHCP client socket (0.0.0.0:68 in the client
// namespace) for a BIOS PXE client with MAC mac. cfg needs Iface,
// ServerIP, Addrs and Enter; DHCPTimeouts are the waits before each
// retransmit (default 2, 4, 8, 16 s).
func NewProber(cfg Config, mac net.HardwareAddr) (*Prober, error) {
	cfg.Clients = 1
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	r, err := newRunner(cfg)
	if err != nil {
		return nil, err
	}
	err = r.enter(func() (err error) {
		r.dhcp, err = server4.NewIPv4UDPConn(cfg.Iface, &net.UDPAddr{IP: net.IPv4zero, Port: dhcpv4.ClientPort})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("storm: prober socket: %w", err)
	}
	go r.readDHCP()
	c := &client{r: r, mac: mac, guid: make([]byte, 17)}
	rand.Read(c.guid[1:])
	return &Prober{r: r, c: c}, nil
}

// Close closes the prober's socket.
func (p *Prober) Close() { p.r.dhcp.Close() }

// Probe is one DISCOVER and pixie's answer.
type Probe struct {
	Latency time.Duration // first DISCOVER to pixie's offer
	Resent  int           // retransmits it took
	Err     error         // no answer at all
}

// Discover broadcasts a PXE DISCOVER (a new transaction) and waits for
// pixie's proxy offer, retransmitting after each of cfg.DHCPTimeouts.
func (p *Prober) Discover(ctx context.Context) Probe {
	p.c.res.Retries = nil
	start := time.Now()
	_, err := p.c.broadcast(ctx, StageOffer, dhcpv4.MessageTypeDiscover, p.c.pxeOptions(false)...)
	return Probe{Latency: time.Since(start), Resent: p.c.res.Retries[StageOffer], Err: err}
}

// Flood is a burst of DHCP traffic.
type Flood struct {
	// Rate is packets per second, Count how many are sent in all.
	Rate, Count int
	// PXE sends PXE DISCOVERs (BIOS, option 60 PXEClient) that pixie
	// answers, each from a MAC of its own. Otherwise the flood is
	// ordinary DHCP that pixie must ignore: DISCOVERs and REQUESTs of
	// Windows, Linux and Android clients, none with PXEClient, from
	// random MACs.
	PXE bool
	// Retransmit, with PXE, sends one DISCOVER over and over (one MAC, one
	// transaction ID), as a client does that hears no answer: pixie
	// answers each copy but records only one boot event.
	Retransmit bool
	// MACBase gives the flood's MACs their first two bytes (default
	// 02:46); the other four count up.
	MACBase [2]byte
}

// SendFlood broadcasts f on cfg's interface from the client namespace and
// returns how many packets were sent. It stops early when ctx ends.
func SendFlood(ctx context.Context, cfg Config, f Flood) (int, error) {
	cfg.Clients = 1
	if err := cfg.fill(); err != nil {
		return 0, err
	}
	if f.Rate <= 0 || f.Count <= 0 {
		return 0, fmt.Errorf("storm: flood needs a rate and a count")
	}
	if f.MACBase == [2]byte{} {
		f.MACBase = [2]byte{0x02, 0x46}
	}
	r, err := newRunner(cfg)
	if err != nil {
		return 0, err
	}
	var conn *net.UDPConn
	err = r.enter(func() (err error) {
		// Any source port: replies, if there were any, go to port 68.
		conn, err = server4.NewIPv4UDPConn(cfg.Iface, &net.UDPAddr{IP: net.IPv4zero, Port: 0})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("storm: flood socket: %w", err)
	}
	defer conn.Close()

	classes := []string{"MSFT 5.0", "udhcp 1.36.1", "android-dhcp-14", ""}
	const tick = 5 * time.Millisecond
	perTick := max(1, f.Rate*int(tick)/int(time.Second))
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	sent := 0
	for sent < f.Count {
		for range min(perTick, f.Count-sent) {
			i := sent
			if f.Retransmit {
				i = 0
			}
			mac := net.HardwareAddr{f.MACBase[0], f.MACBase[1], byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
			xid := dhcpv4.TransactionID{0x5f, byte(i >> 16), byte(i >> 8), byte(i)}
			mods := []dhcpv4.Modifier{
				dhcpv4.WithTransactionID(xid),
				dhcpv4.WithHwAddr(mac),
				dhcpv4.WithBroadcast(true),
			}
			switch {
			case f.PXE:
				c := &client{mac: mac, guid: make([]byte, 17)}
				mods = append(mods, dhcpv4.WithMessageType(dhcpv4.MessageTypeDiscover))
				mods = append(mods, c.pxeOptions(false)...)
			default:
				if i%2 == 0 {
					mods = append(mods, dhcpv4.WithMessageType(dhcpv4.MessageTypeDiscover))
				} else {
					mods = append(mods, dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
						dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.IP(cfg.RouterIP.AsSlice()))),
						dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.IPv4(10, 77, 0, byte(100+i%100)))))
				}
				if cl := classes[i%len(classes)]; cl != "" {
					mods = append(mods, dhcpv4.WithOption(dhcpv4.OptClassIdentifier(cl)))
				}
				mods = append(mods, dhcpv4.WithRequestedOptions(dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer))
			}
			msg, err := dhcpv4.New(mods...)
			if err != nil {
				return sent, err
			}
			if _, err := conn.WriteToUDP(msg.ToBytes(), bcast); err != nil {
				return sent, fmt.Errorf("storm: flood send: %w", err)
			}
			sent++
		}
		select {
		case <-ticker.C:
		case <-ctx.Done():
			return sent, nil
		}
	}
	return sent, nil
}
