package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/hwaddr"
)

// now is a fixed instant in the local zone, so formatted times are stable.
var testNow = time.Date(2025, 3, 14, 15, 9, 26, 0, time.Local)

func TestFormatAge(t *testing.T) {
	cases := []struct {
		ago  time.Duration
		want string
	}{
		{-3 * time.Second, "just now"}, // clock skew
		{0, "just now"},
		{4 * time.Second, "just now"},
		{45 * time.Second, "45 s ago"},
		{2*time.Minute + 10*time.Second, "2 min ago"},
		{59 * time.Minute, "59 min ago"},
		{5 * time.Hour, "5 h ago"},
		{47 * time.Hour, "47 h ago"},
		{12 * 24 * time.Hour, "12 days ago"},
	}
	for _, tc := range cases {
		if got := formatAge(testNow, testNow.Add(-tc.ago)); got != tc.want {
			t.Errorf("formatAge(%v ago) = %q, want %q", tc.ago, got, tc.want)
		}
	}
	if got := formatAge(testNow, time.Time{}); got != "never" {
		t.Errorf("zero time: %q", got)
	}
}

func TestFormatDuration(t *testing.T) {
	cases := map[time.Duration]string{
		40 * time.Second:            "40 s",
		12 * time.Minute:            "12 min",
		3*time.Hour + 5*time.Minute: "3 h 5 min",
		26 * time.Hour:              "1 day 2 h",
		(2*24 + 4) * time.Hour:      "2 days 4 h",
	}
	for d, want := range cases {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestFormatStatus(t *testing.T) {
	st := api.Status{
		Serving: true, Interface: "en0", Address: "192.168.1.10",
		Ports:   api.Ports{DHCP: 67, PXE: 4011, TFTP: 69, HTTP: 8080},
		DataDir: "/var/lib/pixie", Socket: "/run/pixie/pixie.sock", Version: "0.1.0",
		StartedAt: testNow.Add(-(3*time.Hour + 5*time.Minute)),
		BootURL:   "http://192.168.1.10:8080/boot.ipxe",
		Firmware: []api.Firmware{
			{Arch: "bios", Files: []api.FirmwareFile{{Name: "undionly.kpxe", Source: "embedded"}}},
			{Arch: "efi-x64", Files: []api.FirmwareFile{{Name: "ipxe.efi", Source: "/usr/lib/ipxe"}}, Missing: []string{"snponly.efi"}},
			{Arch: "efi-arm64", Missing: []string{"snp.efi"}},
		},
		Counters: map[string]uint64{"dhcp_not_pxe": 12, "tftp_refused": 1, "a": 0, "b": 2},
	}
	want := `state:      serving: machines are offered network boot
interface:  en0 192.168.1.10
boot URL:   http://192.168.1.10:8080/boot.ipxe
ports:      DHCP 67, PXE 4011, TFTP 69, HTTP 8080
proxyDHCP:  proxyDHCP over UDP sockets (the ports are pixie's alone)
loader:     auto: snponly.efi first, ipxe.efi when the firmware does not run it, then shim/GRUB (Secure Boot) when a shim set is found
firmware:   bios       undionly.kpxe (embedded)
            efi-x64    ipxe.efi (/usr/lib/ipxe); missing snponly.efi
            efi-arm64  missing snp.efi
data dir:   /var/lib/pixie
socket:     /run/pixie/pixie.sock
version:    0.1.0, up 3 h 5 min (since 2025-03-14 12:04)
counters:   a=0  b=2  dhcp_not_pxe=12
            tftp_refused=1
`
	if diff := cmp.Diff(want, formatStatus(st, testNow)); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}

	// A shared PostgreSQL store: status names it and this instance.
	pg := st
	pg.Store = api.StoreStatus{Backend: "postgres", Location: "postgres://pixie@db.lan/pixie", Instance: "rack-1"}
	if got := formatStatus(pg, testNow); !strings.Contains(got, "data dir:   /var/lib/pixie\nstore:      postgres postgres://pixie@db.lan/pixie (instance rack-1)\nsocket:") {
		t.Errorf("status with a PostgreSQL store:\n%s", got)
	}

	// Port 67 held by launchd (Internet Sharing): pixie answers over the
	// link layer, and status says so with what it dropped.
	ll := st
	ll.DHCPLinkLayer = "proxyDHCP over the link layer: port 67 is held by PID 1 (launchd), for bootpd: Internet Sharing or a VM app's shared network"
	ll.Counters = map[string]uint64{"dhcp.dropped.other-interface": 7, "dhcp.dropped.frame-ip-checksum": 1}
	wantLL := "proxyDHCP:  proxyDHCP over the link layer: port 67 is held by PID 1 (launchd), for bootpd: Internet Sharing or a VM app's shared network\n" +
		"            7 arrived on another interface (a VM bridge, Wi-Fi, a Thunderbolt bridge) and were not answered (dhcp.dropped.other-interface)\n" +
		"            1 link-layer frames were refused before DHCP (ip-checksum 1) (dhcp.dropped.frame-*)\n"
	if got := formatStatus(ll, testNow); !strings.Contains(got, wantLL) {
		t.Errorf("status over the link layer, want\n%s\nin:\n%s", wantLL, got)
	}

	st.DefaultLoader, st.EFIFile = "ipxe", "snponly.efi"
	if got := formatStatus(st, testNow); !strings.Contains(got, "loader:     ipxe for every machine without a loader of its own (pixie serve --loader)\n            x86-64 UEFI: snponly.efi (pixie serve --efi-file replaces the ladder)\n") {
		t.Errorf("status with a default loader and --efi-file:\n%s", got)
	}

	st.Paused = true
	if got := formatStatus(st, testNow); !strings.Contains(got, "state:      paused: machines are not offered network boot (`pixie resume` to resume)\n") {
		t.Errorf("paused status:\n%s", got)
	}
	down := api.Status{Interface: "en0", Address: "192.168.1.10", Problem: "interface en0 is down: bring it up"}
	if got := formatStatus(down, testNow); !strings.Contains(got, "state:      not serving: interface en0 is down: bring it up\n") {
		t.Errorf("status with the interface down:\n%s", got)
	}
	if got := formatStatus(api.Status{}, testNow); !strings.Contains(got, "not serving") || !strings.Contains(got, "firmware:   none found") || !strings.Contains(got, "counters:   -") {
		t.Errorf("empty status:\n%s", got)
	}
}

func TestFormatBoots(t *testing.T) {
	bs := []api.BootSummary{
		{MAC: "90:2b:34:14:f6:6a", Known: true, Hostname: "node1", Profile: "fcos",
			Last: api.Event{Stage: "ignition", Detail: "config served", IP: "10.0.0.5", Time: testNow.Add(-2 * time.Minute)}},
		{MAC: "52:54:00:00:00:0b", Known: false, Profile: "first-time",
			Last: api.Event{Stage: "dhcp", Detail: strings.Repeat("long detail ", 10), Time: testNow.Add(-2 * time.Second)}},
		{MAC: "52:54:00:00:00:0c", Known: true, Profile: "first-time",
			Last: api.Event{Stage: "error", IP: "10.0.0.7", Time: testNow.Add(-3 * 24 * time.Hour)}},
		{MAC: "52:54:00:00:00:0d", Known: true, Profile: "first-time", Loader: "auto", LoaderStep: "ipxe",
			Last: api.Event{Stage: "dhcp", Detail: "offer ipxe.efi (loader auto, stepped to ipxe)", Time: testNow.Add(-time.Minute)}},
		{MAC: "52:54:00:00:00:0e", Known: true, Profile: "first-time", Loader: "grub",
			Last: api.Event{Stage: "tftp", Detail: "shimx64.efi", Time: testNow.Add(-time.Minute)}},
	}
	want := `MAC                MACHINE                     LAST STAGE  DETAIL                                    IP        SEEN
90:2b:34:14:f6:6a  node1/fcos                  ignition    config served                             10.0.0.5  2 min ago
52:54:00:00:00:0b  (new)/first-time            dhcp        long detail long detail long detail lon…  -         just now
52:54:00:00:00:0c  -/first-time                error       -                                         10.0.0.7  3 days ago
52:54:00:00:00:0d  -/first-time auto>ipxe      dhcp        offer ipxe.efi (loader auto, stepped to…  -         1 min ago
52:54:00:00:00:0e  -/first-time grub (pinned)  tftp        shimx64.efi                               -         1 min ago
`
	if diff := cmp.Diff(want, formatBoots(bs, testNow)); diff != "" {
		t.Errorf("boots table (-want +got):\n%s", diff)
	}
	if got := formatBoots(nil, testNow); !strings.HasPrefix(got, "no machine has tried to network-boot yet") {
		t.Errorf("empty boots: %q", got)
	}
}

func TestFormatEventLineAndTimeline(t *testing.T) {
	e := api.Event{ID: 3, Time: testNow, MAC: "90:2b:34:14:f6:6a", IP: "10.0.0.5", Arch: "efi-x64", Stage: "tftp", Detail: "ipxe.efi"}
	if got, want := formatEventLine(e), "15:09:26  90:2b:34:14:f6:6a  tftp      10.0.0.5         efi-x64    ipxe.efi"; got != want {
		t.Errorf("event line\n got %q\nwant %q", got, want)
	}
	server := api.Event{Time: testNow, Stage: "server", Detail: "serving paused"}
	if got, want := formatEventLine(server), "15:09:26  -                  server    -                -          serving paused"; got != want {
		t.Errorf("server event line\n got %q\nwant %q", got, want)
	}
	want := `TIME                 STAGE  IP        ARCH     DETAIL
2025-03-14 15:09:26  tftp   10.0.0.5  efi-x64  ipxe.efi
2025-03-14 15:09:26  dhcp   -         -        offer
`
	got := formatTimeline(e.MAC, []api.Event{e, {Time: testNow, Stage: "dhcp", Detail: "offer"}})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("timeline (-want +got):\n%s", diff)
	}
	// Two instances served this boot: the timeline says which did what.
	a, b := e, api.Event{Time: testNow, Stage: "script", Detail: "boot.ipxe", Instance: "boot-b"}
	a.Instance = "boot-a"
	want = `TIME                 STAGE   INSTANCE  IP        ARCH     DETAIL
2025-03-14 15:09:26  tftp    boot-a    10.0.0.5  efi-x64  ipxe.efi
2025-03-14 15:09:26  script  boot-b    -         -        boot.ipxe
`
	if diff := cmp.Diff(want, formatTimeline(e.MAC, []api.Event{a, b})); diff != "" {
		t.Errorf("timeline of two instances (-want +got):\n%s", diff)
	}
	if got := formatTimeline(e.MAC, nil); !strings.HasPrefix(got, "no boot events recorded for 90:2b:34:14:f6:6a") {
		t.Errorf("empty timeline: %q", got)
	}
}

func TestFormatMachines(t *testing.T) {
	ms := []api.Machine{
		{MAC: "90:2b:34:14:f6:6a", Hostname: "node1", Profile: "fcos", Vars: map[string]string{"role": "w", "ssh_key": "k"}, UpdatedAt: testNow.Add(-time.Hour)},
		{MAC: "52:54:00:00:00:0b", UpdatedAt: testNow, Loader: "auto", LoaderStep: "ipxe", LoaderReason: "firmware did not run snponly.efi: stepping to ipxe.efi", LoaderStepAt: testNow.Add(-time.Minute)},
	}
	want := `MAC                HOSTNAME  PROFILE    LOADER     VARS          UPDATED
90:2b:34:14:f6:6a  node1     fcos       auto       role,ssh_key  1 h ago
52:54:00:00:00:0b  -         (default)  auto>ipxe  -             just now
`
	if diff := cmp.Diff(want, formatMachines(ms, testNow)); diff != "" {
		t.Errorf("machines (-want +got):\n%s", diff)
	}
	wantShow := `mac:       90:2b:34:14:f6:6a
hostname:  node1
profile:   fcos
vars:      role=w
           ssh_key=k
loader:    auto (the server's default; snponly.efi first)
created:   -
updated:   2025-03-14 14:09:26 (1 h ago)
`
	if diff := cmp.Diff(wantShow, formatMachine(ms[0], testNow)); diff != "" {
		t.Errorf("machine show (-want +got):\n%s", diff)
	}
	wantStepped := `loader:    auto, stepped to ipxe 2025-03-14 15:08:26 (1 min ago)
           why: firmware did not run snponly.efi: stepping to ipxe.efi
           ` + "`pixie machines set 52:54:00:00:00:0b --loader auto`" + ` starts again at snponly
`
	if got := formatMachine(ms[1], testNow); !strings.Contains(got, wantStepped) {
		t.Errorf("stepped machine show:\n%s\nwant it to contain:\n%s", got, wantStepped)
	}
	pinned := api.Machine{MAC: "52:54:00:00:00:0c", Loader: "grub"}
	if got := formatMachine(pinned, testNow); !strings.Contains(got, "loader:    grub (pinned: `pixie machines set 52:54:00:00:00:0c --loader auto` lets pixie choose)\n") {
		t.Errorf("pinned machine show:\n%s", got)
	}
}

func TestFormatProfile(t *testing.T) {
	p := api.Profile{Name: "fcos", OS: "fedora-coreos", Kernel: "fcos/kernel", Initrds: []string{"a.img", "b.img"},
		Args: "ignition.firstboot", Ignition: `{"ignition":{"version":"3.4.0"}}`, CreatedAt: testNow, UpdatedAt: testNow}
	want := `name:         fcos
description:  -
os:           fedora-coreos
kernel:       fcos/kernel
initrds:      a.img
              b.img
args:         ignition.firstboot
machines:     90:2b:34:14:f6:6a
created:      2025-03-14 15:09:26 (just now)
updated:      2025-03-14 15:09:26 (just now)
ignition (32 bytes):
{"ignition":{"version":"3.4.0"}}
`
	if diff := cmp.Diff(want, formatProfile(p, []string{"90:2b:34:14:f6:6a"}, testNow)); diff != "" {
		t.Errorf("profile show (-want +got):\n%s", diff)
	}
	list := formatProfiles([]api.Profile{p}, map[string]int{"fcos": 2})
	wantList := `NAME  OS             KERNEL       INITRDS  MACHINES  DESCRIPTION
fcos  fedora-coreos  fcos/kernel  2        2         -
`
	if diff := cmp.Diff(wantList, list); diff != "" {
		t.Errorf("profiles list (-want +got):\n%s", diff)
	}
}

func TestPauseMessage(t *testing.T) {
	cases := []struct {
		was, is bool
		want    string
	}{
		{false, true, "pixie paused: machines will not be offered network boot until `pixie resume`"},
		{true, true, "pixie was already paused: machines are not offered network boot until `pixie resume`"},
		{true, false, "pixie resumed: machines are offered network boot again"},
		{false, false, "pixie was not paused: machines are offered network boot"},
	}
	for _, tc := range cases {
		if got := pauseMessage(tc.was, tc.is); got != tc.want {
			t.Errorf("pauseMessage(%v, %v) = %q, want %q", tc.was, tc.is, got, tc.want)
		}
	}
}

func TestMachineChange(t *testing.T) {
	m := api.Machine{MAC: "90:2b:34:14:f6:6a", Profile: "fcos", Hostname: "old", Vars: map[string]string{"a": "1", "b": "2"}}
	ch := machineChange{setHostname: true, hostname: "new", vars: []string{"c=x=y", "a=3"}, unset: []string{"b"}}
	if err := ch.apply(&m); err != nil {
		t.Fatal(err)
	}
	want := api.Machine{MAC: "90:2b:34:14:f6:6a", Profile: "fcos", Hostname: "new", Vars: map[string]string{"a": "3", "c": "x=y"}}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("after apply (-want +got):\n%s", diff)
	}
	for _, bad := range []machineChange{
		{vars: []string{"novalue"}},
		{vars: []string{"=v"}},
		{setProfile: true, profile: "x", clearProfile: true},
	} {
		if err := bad.apply(&api.Machine{}); !isUsageError(err) {
			t.Errorf("apply(%+v) = %v, want a usage error", bad, err)
		}
	}
}

func TestParseMAC(t *testing.T) {
	for _, in := range []string{"90:2b:34:14:f6:6a", "90-2B-34-14-F6-6A", "902b.3414.f66a", "902B3414F66A"} {
		if got, err := parseMAC(in); err != nil || got != "90:2b:34:14:f6:6a" {
			t.Errorf("parseMAC(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"zz", "90:2b:34:14:f6:6g", ""} {
		_, err := parseMAC(in)
		if !isUsageError(err) || !strings.Contains(err.Error(), "write it like 90:2b:34:14:f6:6a") {
			t.Errorf("parseMAC(%q) = %v, want a usage error showing how to write it", in, err)
		}
	}
	for in, want := range map[string]string{
		"90:2b:34:14:f6:6g": `invalid MAC address "90:2b:34:14:f6:6g" has "6g" as group 6: each group is two hex digits (0-9, a-f); write it like ` + hwaddr.Spellings,
		"zz:zz":             `"zz:zz" is not a MAC address: write it like ` + hwaddr.Spellings,
		"90:2b:34:14:f6":    `invalid MAC address "90:2b:34:14:f6" is not 6 bytes: it has 5, a MAC address has 6; write it like ` + hwaddr.Spellings,
		"":                  "empty MAC address; write it like " + hwaddr.Spellings,
	} {
		if _, err := parseMAC(in); err == nil || err.Error() != want {
			t.Errorf("parseMAC(%q) = %v\nwant %s", in, err, want)
		}
	}
}
