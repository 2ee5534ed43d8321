package doctor

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/netif"
)

func TestParseFirewall(t *testing.T) {
	global := []struct {
		out               string
		enabled, blockAll bool
		err               bool
	}{
		{"Firewall is enabled. (State = 1)\n", true, false, false},
		{"Firewall is disabled. (State = 0)\n", false, false, false},
		{"Firewall is blocking all non-essential incoming connections. (State = 2)\n", true, true, false},
		{"socketfilterfw: unknown option\n", false, false, true},
	}
	for _, g := range global {
		en, ba, err := parseGlobalState(g.out)
		if en != g.enabled || ba != g.blockAll || (err != nil) != g.err {
			t.Errorf("parseGlobalState(%q) = %v, %v, %v", g.out, en, ba, err)
		}
	}
	if !parseBlockAll("Block all INCOMING connections: enabled\n") || parseBlockAll("Block all INCOMING connections: disabled\n") || !parseBlockAll("Firewall has block all state set to enabled.\n") {
		t.Error("parseBlockAll misreads socketfilterfw --getblockall")
	}
	apps := []struct{ out, want string }{
		{"The application /usr/local/bin/pixie is not part of the firewall\n", "unlisted"},
		{"Incoming connection to the application is blocked\n", "blocked"},
		{"Incoming connection to the application is permitted\n", "allowed"},
	}
	for _, a := range apps {
		if got, err := parseAppBlocked(a.out); err != nil || got != a.want {
			t.Errorf("parseAppBlocked(%q) = %q, %v; want %q", a.out, got, err, a.want)
		}
	}
	if _, err := parseAppBlocked("???"); err == nil {
		t.Error("parseAppBlocked accepted nonsense")
	}
}

func TestCheckFirewall(t *testing.T) {
	const app = "/Applications/Pixie.app/Contents/MacOS/pixie"
	cases := []struct {
		name   string
		fw     *AppFirewall
		status Status
		msg    string
		fixHas string
	}{
		{"off", &AppFirewall{Checked: true, App: app}, OK, "the Application Firewall is off", ""},
		{"block all", &AppFirewall{Checked: true, Enabled: true, BlockAll: true, App: app}, Fail, "blocks all incoming", "Block all incoming connections"},
		{"allowed", &AppFirewall{Checked: true, Enabled: true, App: app, AppState: "allowed"}, OK, "is allowed", ""},
		{"blocked", &AppFirewall{Checked: true, Enabled: true, App: app, AppState: "blocked"}, Fail, "blocks " + app, "--unblockapp " + app},
		{"unlisted", &AppFirewall{Checked: true, Enabled: true, App: app, AppState: "unlisted"}, Warn, "cannot answer", "--add " + app},
		{"not checked", &AppFirewall{App: app, Err: errTest("socketfilterfw: no such file")}, Warn, "not checked: socketfilterfw: no such file", "System Settings"},
	}
	for _, c := range cases {
		got := checkFirewall(c.fw)
		if len(got) != 1 || got[0].Status != c.status || !strings.Contains(got[0].Message, c.msg) || !strings.Contains(got[0].Fix, c.fixHas) {
			t.Errorf("%s: %+v; want %s with %q, fix with %q", c.name, got, c.status, c.msg, c.fixHas)
		}
	}
	if checkFirewall(nil) != nil {
		t.Error("no firewall facts (Linux) must give no check")
	}
}

type errTest string

func (e errTest) Error() string { return string(e) }

// On macOS lsof names launchd as the holder of *:67 when Internet Sharing
// is on; doctor must say what that is, not give Linux's SO_REUSEPORT story.
// pixie answers beside it over BPF, so on macOS it is a warning; with the
// daemon running on the link layer, it is fine and says so.
func TestDarwinPort67HeldByLaunchd(t *testing.T) {
	ports := api.Ports{DHCP: 67, PXE: 4011, TFTP: 69, HTTP: 8080}
	scan := PortScan{Supported: true, Holders: []Holder{{Proto: "udp", Local: netip.MustParseAddrPort("0.0.0.0:67"), Procs: []Proc{{PID: 1, Name: "launchd"}}}}}
	for _, goos := range []string{"darwin", "linux"} {
		checks := checkPorts(Facts{GOOS: goos, Ports: ports, Scan: scan, DaemonSocket: "/var/run/pixie/pixie.sock"})
		c := checks[0]
		want := Fail
		if goos == "darwin" {
			want = Warn
		}
		if c.Status != want || !strings.Contains(c.Message, "launchd (pid 1)") {
			t.Fatalf("%s: %+v", goos, c)
		}
		darwinWords := strings.Contains(c.Message, "Internet Sharing") && strings.Contains(c.Fix, "Internet Sharing") && !strings.Contains(c.Message, "SO_REUSEPORT lets both")
		if (goos == "darwin") != darwinWords {
			t.Errorf("%s: message %q fix %q", goos, c.Message, c.Fix)
		}
	}
}

func TestPortHeldWhileOnLinkLayer(t *testing.T) {
	ports := api.Ports{DHCP: 67, PXE: 4011, TFTP: 69, HTTP: 8080}
	daemon := &api.Status{Interface: "en0", Address: "192.168.2.1", Ports: ports,
		DHCPLinkLayer: "proxyDHCP over the link layer: port 67 is held by PID 1 (launchd), for bootpd: Internet Sharing or a VM app's shared network"}
	held := PortScan{Supported: true, Holders: []Holder{
		{Proto: "udp", Local: netip.MustParseAddrPort("0.0.0.0:67"), Procs: []Proc{{PID: 1, Name: "launchd"}}},
		{Proto: "udp", Local: netip.MustParseAddrPort("0.0.0.0:4011"), Procs: []Proc{{PID: 90, Name: "pixie"}}},
	}}
	for _, goos := range []string{"darwin", "linux"} {
		checks := checkPorts(Facts{GOOS: goos, Ports: ports, Scan: held, Daemon: daemon, DaemonSocket: "/var/run/pixie.sock"})
		if c := checks[0]; c.Status != OK || !strings.Contains(c.Message, "held by launchd (pid 1) on 0.0.0.0:67; pixie answers beside it over the link layer") ||
			!strings.Contains(c.Message, "(proxyDHCP over the link layer (port 67 is held by PID 1 (launchd)))") {
			t.Errorf("%s, 67 held, daemon on the link layer: %+v", goos, c)
		}
		if c := checks[1]; c.Status != OK || !strings.Contains(c.Message, "pixie: pixie (pid 90)") {
			t.Errorf("%s, 4011 on UDP: %+v", goos, c)
		}
	}
	// --dhcp-link-layer: no socket on 67 at all is right.
	forced := *daemon
	forced.DHCPLinkLayer = "proxyDHCP over the link layer: port 67 as asked (--dhcp-link-layer)"
	c := checkPorts(Facts{GOOS: "linux", Ports: ports, Scan: PortScan{Supported: true}, Daemon: &forced})[0]
	if c.Status != OK || !strings.Contains(c.Message, "without a socket on the port") {
		t.Errorf("forced link layer, 67 unbound: %+v", c)
	}
	// Another holder besides launchd (a Homebrew dnsmasq) keeps the
	// failure when pixie is not on the link layer.
	two := PortScan{Supported: true, Holders: []Holder{
		{Proto: "udp", Local: netip.MustParseAddrPort("0.0.0.0:67"), Procs: []Proc{{PID: 1, Name: "launchd"}}},
		{Proto: "udp", Local: netip.MustParseAddrPort("0.0.0.0:67"), Procs: []Proc{{PID: 77, Name: "dnsmasq"}}},
	}}
	if c := checkPorts(Facts{GOOS: "darwin", Ports: ports, Scan: two})[0]; c.Status != Fail {
		t.Errorf("launchd and dnsmasq on 67: %+v", c)
	}
}

func TestCheckDHCPPath(t *testing.T) {
	if c := checkDHCPPath(Facts{}); c.Name != "" {
		t.Errorf("no daemon gave a check: %+v", c)
	}
	udp := checkDHCPPath(Facts{Daemon: &api.Status{}})
	if udp.Status != OK || udp.Message != "proxyDHCP over UDP sockets (the ports are pixie's alone)" {
		t.Errorf("UDP: %+v", udp)
	}
	st := &api.Status{DHCPLinkLayer: "proxyDHCP over the link layer: port 67 is held by PID 812 (dnsmasq)",
		Counters: map[string]uint64{"dhcp.dropped.other-interface": 4}}
	if c := checkDHCPPath(Facts{Daemon: st}); c.Status != OK || !strings.Contains(c.Message, "held by PID 812 (dnsmasq); 4 arrived on another interface") {
		t.Errorf("link layer with other-interface drops: %+v", c)
	}
	st.Counters["dhcp.dropped.kernel"] = 9
	c := checkDHCPPath(Facts{GOOS: "darwin", Daemon: st})
	if c.Status != Warn || !strings.Contains(c.Message, "9 were dropped by the kernel") || !strings.Contains(c.Fix, "dhcp.dropped.kernel") || !strings.Contains(c.Fix, "/Library/Logs/Pixie/pixie.log") {
		t.Errorf("kernel drops: %+v", c)
	}
}

func TestAdvicePerOS(t *testing.T) {
	for _, goos := range []string{"darwin", "linux"} {
		for _, p := range pixiePorts(api.Ports{DHCP: 67, PXE: 4011, TFTP: 69, HTTP: 8080}, goos) {
			if onMac, linuxy := goos == "darwin", strings.Contains(p.fix+p.clash, "systemctl") || strings.Contains(p.clash, "SO_REUSEPORT lets both"); onMac && linuxy {
				t.Errorf("darwin advice for %s names Linux tools: %q / %q", p.name, p.clash, p.fix)
			}
		}
	}
	fix := func(goos string) string {
		return checkFirmware([]api.Firmware{{Arch: "bios", Missing: []string{"undionly.kpxe"}}}, goos, nil)[0].Fix
	}
	if d, l := fix("darwin"), fix("linux"); !strings.Contains(d, "Pixie app or pkg") || strings.Contains(d, "apt") || !strings.Contains(l, "apt install ipxe") {
		t.Errorf("firmware advice: darwin %q, linux %q", d, l)
	}
	down := func(goos string) string {
		return checkInterface(Facts{GOOS: goos, Choice: netif.Choice{Interface: "en5"}, Candidates: []netif.Candidate{{Name: "en5"}}}).Fix
	}
	if d := cmp.Diff([]string{"bring it up (`sudo ifconfig en5 up`, or connect the cable)", "bring it up (`sudo ip link set en5 up`, or connect the cable)"}, []string{down("darwin"), down("linux")}); d != "" {
		t.Errorf("interface-down advice (-want +got):\n%s", d)
	}
}
