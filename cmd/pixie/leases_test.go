package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/store"
)

func TestCLIReservation(t *testing.T) {
	d := startDaemon(t)
	out := mustPixie(t, d, "machines", "set", "52:54:00:00:00:01", "--ip", "10.0.0.20/24", "--gateway", "10.0.0.1", "--dns", "10.0.0.53,1.1.1.1")
	wantContains(t, "set --ip", out, "address 10.0.0.20/24 via 10.0.0.1 dns 10.0.0.53,1.1.1.1")
	wantContains(t, "show", mustPixie(t, d, "machines", "show", "52:54:00:00:00:01"), "address:   10.0.0.20/24 (reserved), gateway 10.0.0.1, DNS 10.0.0.53, 1.1.1.1")

	// Another machine may not take it; the message names the owner.
	code, _, errOut := pixie(t, d, "", "machines", "set", "52:54:00:00:00:02", "--ip", "10.0.0.20")
	if code != 1 || !strings.Contains(errOut, "10.0.0.20 is already reserved for machine 52:54:00:00:00:01") {
		t.Errorf("duplicate reservation: exit %d, %q", code, errOut)
	}
	code, _, errOut = pixie(t, d, "", "machines", "set", "52:54:00:00:00:02", "--ip", "10.0.0.300")
	if code != 1 || !strings.Contains(errOut, `reserved address "10.0.0.300": want an IPv4 address`) {
		t.Errorf("bad address: exit %d, %q", code, errOut)
	}

	// Only the DNS servers change; then --ip "" drops the whole reservation.
	mustPixie(t, d, "machines", "set", "52:54:00:00:00:01", "--dns", "9.9.9.9")
	var m api.Machine
	if err := json.Unmarshal([]byte(mustPixie(t, d, "--json", "machines", "show", "52:54:00:00:00:01")), &m); err != nil {
		t.Fatal(err)
	}
	if m.IP != "10.0.0.20/24" || m.Gateway != "10.0.0.1" || strings.Join(m.DNS, ",") != "9.9.9.9" {
		t.Errorf("after --dns: %+v", m)
	}
	mustPixie(t, d, "machines", "set", "52:54:00:00:00:01", "--ip", "")
	m = api.Machine{}
	if err := json.Unmarshal([]byte(mustPixie(t, d, "--json", "machines", "show", "52:54:00:00:00:01")), &m); err != nil {
		t.Fatal(err)
	}
	if m.IP != "" || m.Gateway != "" || len(m.DNS) != 0 {
		t.Errorf("after --ip \"\": %+v", m)
	}
	mustPixie(t, d, "machines", "set", "52:54:00:00:00:02", "--ip", "10.0.0.20")
}

func TestCLILeases(t *testing.T) {
	d := startDaemon(t)
	wantContains(t, "no leases", mustPixie(t, d, "leases"), "proxy mode", "no leases yet")
	exp := time.Now().Add(time.Hour)
	for _, l := range []store.Lease{
		{IP: "10.0.0.130", MAC: "52:54:00:00:00:01", State: "bound", Expires: exp, Hostname: "node1"},
		{IP: "10.0.0.129", State: "held", Expires: exp},
	} {
		if err := d.Store.PutLease(context.Background(), l); err != nil {
			t.Fatal(err)
		}
	}
	out := mustPixie(t, d, "leases")
	wantContains(t, "leases", out, "ADDRESS", "10.0.0.129  -", "held", "10.0.0.130  52:54:00:00:00:01  bound", "node1")
	if strings.Index(out, "10.0.0.129") > strings.Index(out, "10.0.0.130") {
		t.Errorf("leases not by address:\n%s", out)
	}
	var ls api.Leases
	if err := json.Unmarshal([]byte(mustPixie(t, d, "--json", "leases")), &ls); err != nil {
		t.Fatal(err)
	}
	if len(ls.Leases) != 2 || ls.Leases[1].MAC != "52:54:00:00:00:01" || ls.Mode != "proxy" {
		t.Errorf("leases --json: %+v", ls)
	}
}

func TestFormatDHCP(t *testing.T) {
	for _, tc := range []struct {
		d    api.DHCPStatus
		want string
	}{
		{api.DHCPStatus{Mode: "proxy", Checked: true, Servers: []string{"10.0.0.1 (aa:bb:cc:dd:ee:ff)"}},
			"proxy: the LAN's DHCP server hands out addresses (seen: 10.0.0.1 (aa:bb:cc:dd:ee:ff))"},
		{api.DHCPStatus{Mode: "proxy", Checked: true, Warning: "no DHCP server answered on en5: machines will get no address; run `pixie serve --dhcp` to hand out addresses on this link"},
			"proxy: the LAN's DHCP server hands out addresses\nWARNING: no DHCP server answered on en5: machines will get no address; run `pixie serve --dhcp` to hand out addresses on this link"},
		{api.DHCPStatus{Mode: "full", Pool: "10.0.0.128-10.0.0.254", PoolSize: 127, PoolUsed: 3, LeaseTime: "1h0m0s"},
			"full: pixie hands out addresses from 10.0.0.128-10.0.0.254 (3 of 127 leased, leases of 1h0m0s); `pixie leases` lists them"},
	} {
		if got := formatDHCP(tc.d, "en5"); got != tc.want {
			t.Errorf("formatDHCP(%+v):\n got %q\nwant %q", tc.d, got, tc.want)
		}
	}
}
