package netif

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
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
		{name: "explicit address on a downed link", cands: all, addr: "10.9.0.1", err: "eth1 (address 10.9.0.1) is down"},
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

func TestSameAndDescribe(t *testing.T) {
	a := State{Choice: Choice{Interface: "eth0", Addr: netip.MustParseAddr("10.77.0.2")}}
	moved := State{Choice: Choice{Interface: "eth0", Addr: netip.MustParseAddr("10.77.0.3")}}
	wifi := State{Choice: Choice{Interface: "wlan0", Addr: netip.MustParseAddr("192.168.1.5")}}
	down := State{Err: errors.New("interface eth0 is down")}
	gone := State{Err: errors.New(`no interface named "eth0"`)}
	cases := []struct {
		name     string
		old, cur State
		same     bool
		describe string
	}{
		{"unchanged", a, a, true, ""},
		{"new address", a, moved, false, "address of eth0 changed from 10.77.0.2 to 10.77.0.3"},
		{"new interface", a, wifi, false, "moved from eth0 10.77.0.2 to wlan0 192.168.1.5"},
		{"went down", a, down, false, "stopped serving on eth0 10.77.0.2: interface eth0 is down"},
		{"came back", down, a, false, "serving again on eth0 10.77.0.2"},
		{"still down", down, down, true, ""},
		{"down then gone", down, gone, false, "still not serving: no interface named"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Same(tc.old, tc.cur); got != tc.same {
				t.Fatalf("Same = %v, want %v", got, tc.same)
			}
			if tc.same {
				return
			}
			if got := Describe(tc.old, tc.cur); !strings.Contains(got, tc.describe) {
				t.Fatalf("Describe = %q, want it to contain %q", got, tc.describe)
			}
		})
	}
}

func TestWatchSendsOnlyChanges(t *testing.T) {
	a := Choice{Interface: "eth0", Addr: netip.MustParseAddr("10.77.0.2")}
	b := Choice{Interface: "eth0", Addr: netip.MustParseAddr("10.77.0.3")}
	// What the system looks like at each poll.
	script := []State{{Choice: a}, {Choice: a}, {Choice: b}, {Choice: b}, {Err: errors.New("down")}, {Err: errors.New("down")}, {Choice: a}}
	var polls atomic.Int32
	detect := func() (Choice, error) {
		i := int(polls.Add(1)) - 1
		if i >= len(script) {
			i = len(script) - 1
		}
		return script[i].Choice, script[i].Err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan State)
	go Watch(ctx, State{Choice: a}, time.Millisecond, detect, out)
	var got []string
	for len(got) < 3 {
		select {
		case s := <-out:
			if s.Usable() {
				got = append(got, s.Choice.Addr.String())
			} else {
				got = append(got, s.Err.Error())
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("after %v, no further change reported", got)
		}
	}
	want := []string{"10.77.0.3", "down", "10.77.0.2"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("changes = %v, want %v", got, want)
	}
}

// routeReply is what xnu answers to routeGetDefault: the request's header
// with the interface index, flags and errno filled in (and sockaddrs after
// it, which pixie does not read).
func routeReply(seq, pid int32, index uint16, errno uint32) []byte {
	b := routeGetDefault(seq, pid)
	binary.LittleEndian.PutUint16(b[4:], index)
	binary.LittleEndian.PutUint32(b[24:], errno)
	return b
}

func TestRouteMessages(t *testing.T) {
	req := routeGetDefault(7, 4242)
	if len(req) != rtMsghdrLen+32 || binary.LittleEndian.Uint16(req) != uint16(len(req)) || req[2] != rtmVersion || req[3] != rtmGet {
		t.Fatalf("request header wrong: % x", req[:8])
	}
	if addrs := binary.LittleEndian.Uint32(req[12:]); addrs != rtaDst|rtaNetmask|rtaIfp {
		t.Fatalf("rtm_addrs = %#x", addrs)
	}
	other := routeReply(7, 4242, 5, 0)
	other[3] = 0x1 // RTM_ADD by someone else
	short := routeReply(7, 4242, 5, 0)[:40]
	cases := []struct {
		name   string
		msg    []byte
		index  int
		errHas string
		ours   bool
	}{
		{"answer names en5's index", routeReply(7, 4242, 5, 0), 5, "", true},
		{"another process's request", routeReply(7, 999, 5, 0), 0, "not the answer", false},
		{"an older sequence number", routeReply(6, 4242, 5, 0), 0, "not the answer", false},
		{"a route change broadcast", other, 0, "not the answer", false},
		{"no default route (ESRCH)", routeReply(7, 4242, 0, 3), 0, "no IPv4 default route", true},
		{"truncated", short, 0, "too short", true},
	}
	for _, c := range cases {
		idx, err := parseRouteReply(c.msg, 7, 4242)
		if c.errHas == "" {
			if err != nil || idx != c.index {
				t.Errorf("%s: %d, %v; want %d", c.name, idx, err, c.index)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.errHas) || (err == errNotOurs) == c.ours {
			t.Errorf("%s: err %v, want %q", c.name, err, c.errHas)
		}
	}
}

// A MacBook: Wi-Fi en0 has the lowest index, a Thunderbolt Ethernet
// adapter en5 carries the default route; Internet Sharing's bridge100 and
// a VM's vmenet0 are up with addresses too.
func TestChooseMacBook(t *testing.T) {
	cands := []Candidate{
		{Name: "lo0", Index: 1, Up: true, Loopback: true, Addrs: pfx("127.0.0.1/8")},
		{Name: "en0", Index: 6, Up: true, Broadcast: true, Addrs: pfx("192.168.1.23/24")},
		{Name: "en5", Index: 14, Up: true, Broadcast: true, Addrs: pfx("10.0.0.40/24")},
		{Name: "bridge100", Index: 3, Up: true, Broadcast: true, Addrs: pfx("192.168.64.1/24")},
		{Name: "vmenet0", Index: 2, Up: true, Broadcast: true, Addrs: pfx("192.168.65.1/24")},
		{Name: "anpi0", Index: 4, Up: true, Broadcast: true, Addrs: pfx("169.254.10.1/16")},
	}
	if got, err := Choose(cands, "en5", "", ""); err != nil || got.Interface != "en5" {
		t.Errorf("with the default route on en5: %+v, %v", got, err)
	}
	if got, err := Choose(cands, "", "", ""); err != nil || got.Interface != "en0" {
		t.Errorf("without a default route the bridges and vmenet must lose to en0: %+v, %v", got, err)
	}
	if got := UpCommand("darwin", "en5"); got != "sudo ifconfig en5 up" {
		t.Errorf("UpCommand darwin = %q", got)
	}
}
