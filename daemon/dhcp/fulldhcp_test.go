package dhcp

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

var (
	fullNow    = time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	testMACStr = "52:54:00:12:34:56"
	otherMAC   = "52:54:00:ab:cd:ef"
	fullCfg    = FullConfig{Boot: testCfg, LeaseTime: time.Hour}
)

func ip4(s string) netip.Addr { return netip.MustParseAddr(s) }

func testPool(t *testing.T) Pool {
	t.Helper()
	p, err := DefaultPool(netip.MustParsePrefix("10.78.0.2/24"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func requestIP(ip string) packet { return opt(50, string(net.ParseIP(ip).To4())) }

func TestDecideFull(t *testing.T) {
	bound := func(mac, ip string) Lease {
		return Lease{MAC: mac, IP: ip4(ip), State: LeaseBound, Expires: fullNow.Add(30 * time.Minute)}
	}
	offered := func(mac, ip string) Lease {
		return Lease{MAC: mac, IP: ip4(ip), State: LeaseOffered, Expires: fullNow.Add(30 * time.Second)}
	}
	pixie := net.IP(serverIP.AsSlice())
	res := Reservation{MAC: testMACStr, IP: ip4("10.78.0.20"), Gateway: ip4("10.78.0.1"), DNS: []netip.Addr{ip4("10.78.0.53")}}
	tests := []struct {
		name     string
		leases   []Lease
		res      []Reservation
		rival    bool
		req      *dhcpv4.DHCPv4
		reply    dhcpv4.MessageType
		ip       string // yiaddr, "" for none
		reason   string // substring of Reason
		change   ChangeKind
		fresh    bool
		bootFile string
	}{
		{name: "discover, new MAC: first never-used pool address, probed first",
			req: request(dhcpv4.MessageTypeDiscover), reply: dhcpv4.MessageTypeOffer, ip: "10.78.0.128", change: ChangeOffer, fresh: true},
		{name: "discover from a PXE ROM: address and boot file in one offer",
			req: request(dhcpv4.MessageTypeDiscover, pxe(0)), reply: dhcpv4.MessageTypeOffer, ip: "10.78.0.128", change: ChangeOffer, fresh: true, bootFile: FileBIOS},
		{name: "discover from iPXE: the boot script",
			req: request(dhcpv4.MessageTypeDiscover, pxe(7), opt(77, "iPXE")), reply: dhcpv4.MessageTypeOffer, ip: "10.78.0.128", change: ChangeOffer, fresh: true, bootFile: "http://10.78.0.2:8080/boot.ipxe"},
		{name: "discover, MAC with a bound lease: the same address, lease untouched",
			leases: []Lease{bound(testMACStr, "10.78.0.140")},
			req:    request(dhcpv4.MessageTypeDiscover), reply: dhcpv4.MessageTypeOffer, ip: "10.78.0.140", change: ChangeNone},
		{name: "discover, MAC whose lease expired and nobody took it: the same address again",
			leases: []Lease{{MAC: testMACStr, IP: ip4("10.78.0.150"), State: LeaseBound, Expires: fullNow.Add(-time.Hour)}},
			req:    request(dhcpv4.MessageTypeDiscover), reply: dhcpv4.MessageTypeOffer, ip: "10.78.0.150", change: ChangeOffer},
		{name: "discover asking for a free pool address gets it",
			req: request(dhcpv4.MessageTypeDiscover, requestIP("10.78.0.200")), reply: dhcpv4.MessageTypeOffer, ip: "10.78.0.200", change: ChangeOffer, fresh: true},
		{name: "discover asking for another MAC's address gets a free one",
			leases: []Lease{bound(otherMAC, "10.78.0.200")},
			req:    request(dhcpv4.MessageTypeDiscover, requestIP("10.78.0.200")), reply: dhcpv4.MessageTypeOffer, ip: "10.78.0.128", change: ChangeOffer, fresh: true},
		{name: "discover asking for an address outside the pool gets a pool one",
			req: request(dhcpv4.MessageTypeDiscover, requestIP("10.78.0.5")), reply: dhcpv4.MessageTypeOffer, ip: "10.78.0.128", change: ChangeOffer, fresh: true},
		{name: "discover from a reserved MAC: its reservation",
			res: []Reservation{res}, req: request(dhcpv4.MessageTypeDiscover), reply: dhcpv4.MessageTypeOffer, ip: "10.78.0.20", change: ChangeOffer},
		{name: "discover while a rival server is up: a proxy offer, no address",
			rival: true, req: request(dhcpv4.MessageTypeDiscover, pxe(0)), reply: dhcpv4.MessageTypeOffer, ip: "", change: ChangeNone, bootFile: FileBIOS},
		{name: "discover from a non-PXE client while a rival is up: silence",
			rival: true, req: request(dhcpv4.MessageTypeDiscover), reply: dhcpv4.MessageTypeNone, reason: ReasonRival},

		{name: "selecting pixie's offer: ACK, bound for the lease time",
			leases: []Lease{offered(testMACStr, "10.78.0.130")},
			req:    request(dhcpv4.MessageTypeRequest, serverID(pixie), requestIP("10.78.0.130")), reply: dhcpv4.MessageTypeAck, ip: "10.78.0.130", change: ChangeBind},
		{name: "selecting with a PXE ROM: ACK with the boot file",
			leases: []Lease{offered(testMACStr, "10.78.0.130")},
			req:    request(dhcpv4.MessageTypeRequest, pxe(0), serverID(pixie), requestIP("10.78.0.130")), reply: dhcpv4.MessageTypeAck, ip: "10.78.0.130", change: ChangeBind, bootFile: FileBIOS},
		{name: "selecting another address than offered: NAK",
			leases: []Lease{offered(testMACStr, "10.78.0.130")},
			req:    request(dhcpv4.MessageTypeRequest, serverID(pixie), requestIP("10.78.0.131")), reply: dhcpv4.MessageTypeNak, reason: "did not offer"},
		{name: "selecting another server: silence, our offer void",
			leases: []Lease{offered(testMACStr, "10.78.0.130")},
			req:    request(dhcpv4.MessageTypeRequest, serverID(otherServer), requestIP("10.0.0.9")), reply: dhcpv4.MessageTypeNone, reason: ReasonNotOurOffer, change: ChangeForget},

		{name: "init-reboot with its own lease: ACK",
			leases: []Lease{bound(testMACStr, "10.78.0.140")},
			req:    request(dhcpv4.MessageTypeRequest, requestIP("10.78.0.140")), reply: dhcpv4.MessageTypeAck, ip: "10.78.0.140", change: ChangeBind},
		{name: "init-reboot, free pool address, no record: ACK (pixie is the only server)",
			req: request(dhcpv4.MessageTypeRequest, requestIP("10.78.0.141")), reply: dhcpv4.MessageTypeAck, ip: "10.78.0.141", change: ChangeBind},
		{name: "init-reboot for another MAC's address: NAK",
			leases: []Lease{bound(otherMAC, "10.78.0.140")},
			req:    request(dhcpv4.MessageTypeRequest, requestIP("10.78.0.140")), reply: dhcpv4.MessageTypeNak, reason: "leased to another"},
		{name: "init-reboot from another network: NAK",
			req: request(dhcpv4.MessageTypeRequest, requestIP("192.168.1.50")), reply: dhcpv4.MessageTypeNak, reason: "not an address pixie hands out"},
		{name: "init-reboot for another MAC's reservation: NAK",
			res: []Reservation{{MAC: otherMAC, IP: ip4("10.78.0.20")}},
			req: request(dhcpv4.MessageTypeRequest, requestIP("10.78.0.20")), reply: dhcpv4.MessageTypeNak, reason: "reserved for another"},
		{name: "init-reboot of a reserved MAC with an old pool address: NAK",
			res: []Reservation{res}, req: request(dhcpv4.MessageTypeRequest, requestIP("10.78.0.141")), reply: dhcpv4.MessageTypeNak, reason: "reserved: 10.78.0.20"},

		{name: "renewing its lease (ciaddr): ACK, extended",
			leases: []Lease{bound(testMACStr, "10.78.0.140")},
			req:    request(dhcpv4.MessageTypeRequest, ciaddr("10.78.0.140")), reply: dhcpv4.MessageTypeAck, ip: "10.78.0.140", change: ChangeBind},
		{name: "renewing while a rival is up: pixie's own lease is still renewed",
			leases: []Lease{bound(testMACStr, "10.78.0.140")}, rival: true,
			req: request(dhcpv4.MessageTypeRequest, ciaddr("10.78.0.140")), reply: dhcpv4.MessageTypeAck, ip: "10.78.0.140", change: ChangeBind},
		{name: "rebinding an address pixie never gave while a rival is up: silence",
			rival: true, req: request(dhcpv4.MessageTypeRequest, ciaddr("10.78.0.141")), reply: dhcpv4.MessageTypeNone, reason: ReasonRival},
		{name: "renewing an address now leased to another MAC: NAK",
			leases: []Lease{bound(otherMAC, "10.78.0.140")},
			req:    request(dhcpv4.MessageTypeRequest, ciaddr("10.78.0.140")), reply: dhcpv4.MessageTypeNak, reason: "leased to another"},
		{name: "reserved MAC renewing its reservation: ACK with its gateway",
			res: []Reservation{res}, req: request(dhcpv4.MessageTypeRequest, ciaddr("10.78.0.20")), reply: dhcpv4.MessageTypeAck, ip: "10.78.0.20", change: ChangeBind},

		{name: "decline of its offer: no reply, address set aside",
			leases: []Lease{offered(testMACStr, "10.78.0.130")},
			req:    request(dhcpv4.MessageTypeDecline, serverID(pixie), requestIP("10.78.0.130")), reply: dhcpv4.MessageTypeNone, change: ChangeHold},
		{name: "decline of an address it does not hold: ignored",
			leases: []Lease{offered(otherMAC, "10.78.0.130")},
			req:    request(dhcpv4.MessageTypeDecline, serverID(pixie), requestIP("10.78.0.130")), reply: dhcpv4.MessageTypeNone, reason: ReasonNoLease},
		{name: "release: no reply, lease released",
			leases: []Lease{bound(testMACStr, "10.78.0.140")},
			req:    request(dhcpv4.MessageTypeRelease, serverID(pixie), ciaddr("10.78.0.140")), reply: dhcpv4.MessageTypeNone, change: ChangeRelease},
		{name: "release of another MAC's address: ignored",
			leases: []Lease{bound(otherMAC, "10.78.0.140")},
			req:    request(dhcpv4.MessageTypeRelease, serverID(pixie), ciaddr("10.78.0.140")), reply: dhcpv4.MessageTypeNone, reason: ReasonNoLease},
		{name: "inform: options only, no yiaddr, no lease time",
			req: request(dhcpv4.MessageTypeInform, ciaddr("10.78.0.9")), reply: dhcpv4.MessageTypeAck, ip: ""},
		{name: "inform without ciaddr: ignored",
			req: request(dhcpv4.MessageTypeInform), reply: dhcpv4.MessageTypeNone, reason: ReasonNoAddress},
		{name: "a BOOTREPLY (another server's offer): ignored",
			req: request(dhcpv4.MessageTypeOffer, func(d *dhcpv4.DHCPv4) { d.OpCode = dhcpv4.OpcodeBootReply }), reply: dhcpv4.MessageTypeNone, reason: ReasonNotBootRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			table := NewLeaseTable(testPool(t), tc.leases, tc.res)
			cfg := fullCfg
			cfg.Rival = tc.rival
			resp, d := DecideFull(tc.req, table, cfg, fullNow)
			if d.Reply != tc.reply {
				t.Fatalf("reply %v (reason %q), want %v", d.Reply, d.Reason, tc.reply)
			}
			if tc.reason != "" && !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("reason %q, want it to say %q", d.Reason, tc.reason)
			}
			if d.Change.Kind != tc.change {
				t.Errorf("change %v, want %v", d.Change.Kind, tc.change)
			}
			if d.Fresh != tc.fresh {
				t.Errorf("fresh %v, want %v", d.Fresh, tc.fresh)
			}
			if tc.reply == dhcpv4.MessageTypeNone {
				if resp != nil {
					t.Fatalf("a reply for an ignored request: %v", resp)
				}
				return
			}
			w, err := dhcpv4.FromBytes(appendPacket(nil, resp))
			if err != nil {
				t.Fatalf("reply does not parse: %v", err)
			}
			if w.MessageType() != tc.reply {
				t.Errorf("wire message type %v", w.MessageType())
			}
			if got := w.YourIPAddr.String(); (tc.ip == "" && !w.YourIPAddr.IsUnspecified()) || (tc.ip != "" && got != tc.ip) {
				t.Errorf("yiaddr %s, want %q", got, tc.ip)
			}
			if !w.ServerIdentifier().Equal(pixie) {
				t.Errorf("server id %v, want pixie", w.ServerIdentifier())
			}
			if tc.reply == dhcpv4.MessageTypeNak {
				if w.Options.Has(dhcpv4.OptionIPAddressLeaseTime) || w.Message() == "" {
					t.Errorf("NAK with a lease time or without a message: %v", w.Summary())
				}
				return
			}
			if !w.ServerIPAddr.Equal(pixie) {
				t.Errorf("siaddr %v, want pixie (GRUB finds its server there)", w.ServerIPAddr)
			}
			if w.BootFileName != tc.bootFile {
				t.Errorf("boot file %q, want %q", w.BootFileName, tc.bootFile)
			}
			if (tc.bootFile != "") != w.Options.Has(dhcpv4.OptionClassIdentifier) {
				t.Errorf("option 60 present %v, want %v", w.Options.Has(dhcpv4.OptionClassIdentifier), tc.bootFile != "")
			}
			if tc.ip == "" {
				if w.Options.Has(dhcpv4.OptionIPAddressLeaseTime) {
					t.Errorf("lease time in a reply that hands out no address")
				}
				return
			}
			if lt := w.IPAddressLeaseTime(0); lt != time.Hour {
				t.Errorf("lease time %v, want 1h", lt)
			}
			if w.IPAddressRenewalTime(0) != 30*time.Minute || w.IPAddressRebindingTime(0) != 52*time.Minute+30*time.Second {
				t.Errorf("T1 %v T2 %v", w.IPAddressRenewalTime(0), w.IPAddressRebindingTime(0))
			}
			if net.IP(w.SubnetMask()).String() != "255.255.255.0" {
				t.Errorf("mask %v", w.SubnetMask())
			}
			reservedReply := len(tc.res) > 0 && tc.res[0].MAC == testMACStr
			if got := len(w.Router()); (got > 0) != reservedReply {
				t.Errorf("routers %v: only a reservation with a gateway sets one by default", w.Router())
			}
			if reservedReply && (!w.Router()[0].Equal(net.IPv4(10, 78, 0, 1)) || !w.DNS()[0].Equal(net.IPv4(10, 78, 0, 53))) {
				t.Errorf("reservation gateway/DNS %v %v", w.Router(), w.DNS())
			}
			if d.Change.Kind == ChangeBind && !d.Change.Lease.Expires.Equal(fullNow.Add(time.Hour)) {
				t.Errorf("bound until %v, want now+1h", d.Change.Lease.Expires)
			}
		})
	}
}

func TestDecideFullRouterAndDNSFlags(t *testing.T) {
	table := NewLeaseTable(testPool(t), nil, nil)
	cfg := fullCfg
	cfg.Router, cfg.DNS = []netip.Addr{ip4("10.78.0.1")}, []netip.Addr{ip4("1.1.1.1"), ip4("10.78.0.1")}
	resp, _ := DecideFull(request(dhcpv4.MessageTypeDiscover), table, cfg, fullNow)
	if len(resp.Router()) != 1 || len(resp.DNS()) != 2 {
		t.Fatalf("router %v dns %v", resp.Router(), resp.DNS())
	}
}

// TestLeaseExchange walks one client through DISCOVER, REQUEST, renewal,
// RELEASE and back, applying each change as the server does.
func TestLeaseExchange(t *testing.T) {
	table := NewLeaseTable(testPool(t), nil, nil)
	pixie := net.IP(serverIP.AsSlice())
	step := func(req *dhcpv4.DHCPv4, at time.Time) FullDecision {
		t.Helper()
		_, d := DecideFull(req, table, fullCfg, at)
		table.Apply(d.Change)
		return d
	}
	d := step(request(dhcpv4.MessageTypeDiscover), fullNow)
	ip := d.IP.String()
	if d = step(request(dhcpv4.MessageTypeRequest, serverID(pixie), requestIP(ip)), fullNow); d.Reply != dhcpv4.MessageTypeAck {
		t.Fatalf("selecting: %v %q", d.Reply, d.Reason)
	}
	if table.Used(fullNow) != 1 {
		t.Fatalf("used %d", table.Used(fullNow))
	}
	later := fullNow.Add(50 * time.Minute)
	if d = step(request(dhcpv4.MessageTypeRequest, ciaddr(ip)), later); d.Reply != dhcpv4.MessageTypeAck || d.Change.Lease.Expires != later.Add(time.Hour) {
		t.Fatalf("renewal: %v until %v", d.Reply, d.Change.Lease.Expires)
	}
	step(request(dhcpv4.MessageTypeRelease, serverID(pixie), ciaddr(ip)), later)
	if table.Used(later) != 0 {
		t.Fatalf("released, still used: %d", table.Used(later))
	}
	if d = step(request(dhcpv4.MessageTypeDiscover), later); d.IP.String() != ip || d.Fresh {
		t.Fatalf("after release, offered %v (fresh %v), want %s again", d.IP, d.Fresh, ip)
	}
	// A DECLINE sets the address aside: the next DISCOVER gets another.
	step(request(dhcpv4.MessageTypeDecline, serverID(pixie), requestIP(ip)), later)
	if d = step(request(dhcpv4.MessageTypeDiscover), later); d.IP.String() == ip {
		t.Fatalf("offered the declined address %s again", ip)
	}
}

// TestPoolExhaustion fills the pool with a flood of MACs: the pool runs
// out without evicting a live lease, the table stays within the pool's
// size, existing leases still renew, and expired offers are reused.
func TestPoolExhaustion(t *testing.T) {
	pool, err := RangePool(netip.MustParsePrefix("10.78.0.2/24"), ip4("10.78.0.100"), ip4("10.78.0.109"))
	if err != nil {
		t.Fatal(err)
	}
	table := NewLeaseTable(pool, []Lease{{MAC: testMACStr, IP: ip4("10.78.0.100"), State: LeaseBound, Expires: fullNow.Add(time.Hour)}}, nil)
	exhausted := 0
	for i := range 5000 {
		req := request(dhcpv4.MessageTypeDiscover, func(d *dhcpv4.DHCPv4) {
			d.ClientHWAddr = net.HardwareAddr{0x02, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)}
		})
		_, d := DecideFull(req, table, fullCfg, fullNow)
		table.Apply(d.Change)
		if d.Reason == ReasonPoolExhausted {
			exhausted++
		}
	}
	if exhausted != 5000-9 {
		t.Errorf("%d DISCOVERs found the pool exhausted, want %d", exhausted, 5000-9)
	}
	if table.Len() > pool.Size() {
		t.Errorf("table holds %d records for a pool of %d", table.Len(), pool.Size())
	}
	if l, _ := table.ByIP(ip4("10.78.0.100")); l.MAC != testMACStr {
		t.Fatalf("the live lease was evicted: %+v", l)
	}
	_, d := DecideFull(request(dhcpv4.MessageTypeRequest, ciaddr("10.78.0.100")), table, fullCfg, fullNow.Add(10*time.Minute))
	if d.Reply != dhcpv4.MessageTypeAck {
		t.Fatalf("renewal on a full pool: %v %q", d.Reply, d.Reason)
	}
	// Offers are held for offerHold only: after it, a new MAC gets one.
	_, d = DecideFull(request(dhcpv4.MessageTypeDiscover), table, fullCfg, fullNow.Add(2*offerHold))
	if d.Reply != dhcpv4.MessageTypeOffer || d.Fresh {
		t.Fatalf("after the offers expired: %v %q fresh %v", d.Reply, d.Reason, d.Fresh)
	}
}

func TestDefaultPool(t *testing.T) {
	tests := []struct{ iface, pool, err string }{
		{"10.78.0.2/24", "10.78.0.128-10.78.0.254", ""},
		{"192.168.7.200/24", "192.168.7.128-192.168.7.254", ""}, // pixie's own address inside: skipped
		{"10.1.0.1/16", "10.1.252.0-10.1.255.254", ""},          // capped: the top 1024-block less its broadcast
		{"10.0.0.1/30", "10.0.0.2-10.0.0.2", ""},
		{"10.0.0.2/30", "10.0.0.1-10.0.0.1", ""}, // upper half is pixie's: every host but pixie
		{"10.0.0.0/31", "10.0.0.1-10.0.0.1", ""},
		{"10.0.0.1/32", "", "single-address"},
	}
	for _, tc := range tests {
		p, err := DefaultPool(netip.MustParsePrefix(tc.iface))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.iface, err, tc.err)
			}
			continue
		}
		if err != nil || p.String() != tc.pool {
			t.Errorf("%s: pool %s (%v), want %s", tc.iface, p, err, tc.pool)
		}
		if p.Contains(p.Server) {
			t.Errorf("%s: pool contains pixie's own address", tc.iface)
		}
	}
	if p, _ := DefaultPool(netip.MustParsePrefix("192.168.7.200/24")); p.Size() != 126 {
		t.Errorf("size %d, want 126 (127 less pixie's)", p.Size())
	}
}

func TestRangePool(t *testing.T) {
	iface := netip.MustParsePrefix("10.78.0.2/24")
	for _, tc := range []struct{ from, to, err string }{
		{"10.78.0.10", "10.78.0.20", ""},
		{"10.78.0.20", "10.78.0.10", "ends before it starts"},
		{"10.78.1.10", "10.78.1.20", "not inside"},
		{"10.78.0.0", "10.78.0.20", "network or broadcast"},
		{"10.78.0.2", "10.78.0.2", "only pixie's own"},
	} {
		_, err := RangePool(iface, ip4(tc.from), ip4(tc.to))
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s-%s: err %v, want %q", tc.from, tc.to, err, tc.err)
		}
	}
}
