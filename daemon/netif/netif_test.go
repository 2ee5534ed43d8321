package netif

import (
	"bufio"
	"net/netip"
	"strings"
	"testing"
)

func pfx(s string) []netip.Prefix { return []netip.Prefix{netip.MustParsePrefix(s)} }

func TestChoose(t *testing.T) {
	lo := Candidate{Name: "lo", Index: 1, Up: true, Loopback: true, Addrs: pfx("127.0.0.1/8")}
	eth := Candidate{Name: "eth0", Index: 2, Up: true, Broadcast: true, Addrs: pfx("10.2.0.200/24")}
	docker := Candidate{Name: "docker0", Index: 3, Up: true, Broadcast: true, Addrs: pfx("172.17.0.1/16")}
	wifi := Candidate{Name: "wlan0", Index: 4, Up: true, Broadcast: true, Addrs: pfx("192.168.1.5/24")}
	down := Candidate{Name: "eth1", Index: 5, Broadcast: true, Addrs: pfx("10.9.0.1/24")}
	bare := Candidate{Name: "eth2", Index: 6, Up: true, Broadcast: true}
	all := []Candidate{lo, eth, docker, wifi, down, bare}

	cases := []struct {
		name              string
		cands             []Candidate
		route, ifc, addr  string
		wantIface, wantIP string
		err               string
	}{
		{name: "default route wins", cands: all, route: "wlan0", wantIface: "wlan0", wantIP: "192.168.1.5"},
		{name: "no route: physical before virtual, lowest index", cands: []Candidate{lo, docker, wifi, eth}, wantIface: "eth0", wantIP: "10.2.0.200"},
		{name: "explicit interface", cands: all, route: "wlan0", ifc: "eth0", wantIface: "eth0", wantIP: "10.2.0.200"},
		{name: "explicit address finds its interface", cands: all, addr: "172.17.0.1", wantIface: "docker0", wantIP: "172.17.0.1"},
		{name: "interface and address must agree", cands: all, ifc: "eth0", addr: "192.168.1.5", err: "does not have the address"},
		{name: "unknown interface lists the real ones", cands: all, ifc: "en5", err: "pick one of lo, eth0"},
		{name: "down interface", cands: all, ifc: "eth1", err: "is down"},
		{name: "interface without IPv4", cands: all, ifc: "eth2", err: "has no IPv4 address"},
		{name: "bad address", cands: all, addr: "fe80::1", err: "not an IPv4 address"},
		{name: "nothing usable", cands: []Candidate{lo, down, bare}, err: "no network interface"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Choose(c.cands, c.route, c.ifc, c.addr)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || got.Interface != c.wantIface || got.Addr.String() != c.wantIP {
				t.Fatalf("Choose = %+v, %v; want %s %s", got, err, c.wantIface, c.wantIP)
			}
		})
	}
}

func TestParseRouteTable(t *testing.T) {
	table := `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
wlan0	00000000	0101A8C0	0003	0	0	600	00000000	0	0	0
eth0	00000000	0100020A	0003	0	0	100	00000000	0	0	0
eth0	0000020A	00000000	0001	0	0	100	00FFFFFF	0	0	0
`
	if got := parseRouteTable(bufio.NewScanner(strings.NewReader(table))); got != "eth0" {
		t.Errorf("default route iface = %q, want eth0 (lowest metric)", got)
	}
}
