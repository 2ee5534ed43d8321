package doctor

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/netif"
	"github.com/pixie-boot/pixie/daemon/store"
	"github.com/pixie-boot/pixie/helper/service"
)

var stdPorts = api.Ports{DHCP: 67, PXE: 4011, TFTP: 69, HTTP: 8080}

func holder(proto, addr string, procs ...Proc) Holder {
	return Holder{Proto: proto, Local: netip.MustParseAddrPort(addr), Procs: procs}
}

// verdict finds the check named name (a prefix) in r.
func verdict(t *testing.T, r Report, name string) Check {
	t.Helper()
	for _, c := range r.Checks {
		if strings.HasPrefix(c.Name, name) {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, r.Checks)
	return Check{}
}

func TestCheckPorts(t *testing.T) {
	daemon := &api.Status{Interface: "eth0", Address: "10.0.0.2", Ports: stdPorts}
	tests := []struct {
		name    string
		daemon  *api.Status
		scan    PortScan
		port    string
		status  Status
		message string
	}{
		{name: "free, no daemon", scan: PortScan{Supported: true}, port: "proxyDHCP", status: OK, message: "free"},
		{name: "pixie holds it", daemon: daemon, scan: PortScan{Supported: true, Holders: []Holder{holder("udp", "0.0.0.0:67", Proc{10, "pixie"})}},
			port: "proxyDHCP", status: OK, message: "pixie: pixie (pid 10) on 0.0.0.0:67"},
		{name: "dnsmasq shares 67 through SO_REUSEPORT", daemon: daemon,
			scan: PortScan{Supported: true, Holders: []Holder{holder("udp", "0.0.0.0:67", Proc{10, "pixie"}), holder("udp", "0.0.0.0:67", Proc{812, "dnsmasq"})}},
			port: "proxyDHCP", status: Fail, message: "held by dnsmasq (pid 812) on 0.0.0.0:67: another DHCP server on this host shares the port: SO_REUSEPORT"},
		{name: "tftpd", scan: PortScan{Supported: true, Holders: []Holder{holder("udp", "0.0.0.0:69", Proc{900, "in.tftpd"})}},
			port: "TFTP", status: Fail, message: "in.tftpd (pid 900)"},
		{name: "web server on the HTTP port", scan: PortScan{Supported: true, Holders: []Holder{holder("tcp", "0.0.0.0:8080", Proc{7, "nginx"})}},
			port: "HTTP", status: Fail, message: "nginx"},
		{name: "an unseen holder", daemon: daemon, scan: PortScan{Supported: true, Partial: true, Holders: []Holder{holder("udp", "0.0.0.0:4011")}},
			port: "PXE", status: Warn, message: "cannot see (probably the pixie daemon)"},
		{name: "a pixie that is not this socket's", scan: PortScan{Supported: true, Holders: []Holder{holder("udp", "10.0.0.2:69", Proc{5, "pixie"})}},
			port: "TFTP", status: Warn, message: "held by a pixie that does not answer"},
		{name: "daemon up, port unheld", daemon: daemon, scan: PortScan{Supported: true}, port: "HTTP", status: Warn, message: "nobody holds it"},
		{name: "no scan here", scan: PortScan{}, port: "proxyDHCP", status: Warn, message: "not checked"},
		{name: "scan failed", scan: PortScan{Supported: true, Err: errors.New("permission denied")}, port: "TFTP", status: Warn, message: "not checked: permission denied"},
		{name: "other ports do not count", scan: PortScan{Supported: true, Holders: []Holder{holder("udp", "0.0.0.0:68", Proc{3, "dhclient"}), holder("tcp", "0.0.0.0:67", Proc{4, "x"})}},
			port: "proxyDHCP", status: OK, message: "free"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Report{Checks: checkPorts(Facts{GOOS: "linux", Ports: stdPorts, Daemon: tt.daemon, DaemonSocket: "/run/pixie/pixie.sock", Scan: tt.scan})}
			c := verdict(t, r, tt.port)
			if c.Status != tt.status || !strings.Contains(c.Message, tt.message) {
				t.Errorf("%s: %s %q, want %s containing %q", c.Name, c.Status, c.Message, tt.status, tt.message)
			}
			if c.Status != OK && c.Fix == "" {
				t.Error("no fix given")
			}
		})
	}
}

func TestCheckInterface(t *testing.T) {
	eth0 := netif.Candidate{Name: "eth0", Up: true, Broadcast: true, Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/24")}}
	down := eth0
	down.Up = false
	bare := eth0
	bare.Addrs = nil
	moved := eth0
	moved.Addrs = []netip.Prefix{netip.MustParsePrefix("192.168.5.9/24")}
	choice := netif.Choice{Interface: "eth0", Addr: netip.MustParseAddr("10.0.0.2")}
	tests := []struct {
		name    string
		cands   []netif.Candidate
		err     error
		status  Status
		message string
	}{
		{"up with its address", []netif.Candidate{eth0}, nil, OK, "eth0 is up with 10.0.0.2/24"},
		{"down", []netif.Candidate{down}, nil, Fail, "is down"},
		{"no IPv4", []netif.Candidate{bare}, nil, Fail, "no IPv4 address"},
		{"address changed", []netif.Candidate{moved}, nil, Fail, "pixie announces 10.0.0.2, but eth0 now has 192.168.5.9/24"},
		{"gone", nil, nil, Fail, "does not exist"},
		{"cannot choose", nil, errors.New(`no interface "en9"`), Fail, `no interface "en9"`},
	}
	for _, tt := range tests {
		c := checkInterface(Facts{Choice: choice, Candidates: tt.cands, ChoiceErr: tt.err})
		if c.Status != tt.status || !strings.Contains(c.Message, tt.message) || (c.Status != OK && c.Fix == "") {
			t.Errorf("%s: %+v, want %s containing %q", tt.name, c, tt.status, tt.message)
		}
	}
}

func TestCheckFirmware(t *testing.T) {
	none := []api.Firmware{{Arch: "bios", Missing: []string{"undionly.kpxe"}}, {Arch: "efi-x64", Missing: []string{"ipxe.efi"}}}
	r := Report{Checks: checkFirmware(none, "linux", nil)}
	if len(r.Checks) != 1 || r.Checks[0].Status != Fail {
		t.Errorf("no firmware at all: %+v", r.Checks)
	}
	debian := []api.Firmware{
		{Arch: "bios", Files: []api.FirmwareFile{{Name: "undionly.kpxe", Source: "/usr/lib/ipxe"}}},
		{Arch: "efi-x64", Files: []api.FirmwareFile{{Name: "ipxe.efi", Source: "/usr/lib/ipxe"}}, Missing: []string{"snponly.efi"}},
		{Arch: "efi-arm64", Missing: []string{"ipxe-arm64.efi"}},
	}
	r = Report{Checks: checkFirmware(debian, "linux", nil)}
	if c := verdict(t, r, "firmware bios"); c.Status != OK || c.Message != "undionly.kpxe (/usr/lib/ipxe)" {
		t.Errorf("bios: %+v", c)
	}
	if c := verdict(t, r, "firmware efi-x64"); c.Status != OK || !strings.Contains(c.Message, "not found: snponly.efi") {
		t.Errorf("efi-x64: %+v", c)
	}
	if c := verdict(t, r, "firmware efi-arm64"); c.Status != OK || !strings.Contains(c.Message, "needed only for efi-arm64") {
		t.Errorf("efi-arm64: %+v", c)
	}
	noBIOS := append([]api.Firmware{{Arch: "bios", Missing: []string{"undionly.kpxe"}}}, debian[1:]...)
	if c := verdict(t, Report{Checks: checkFirmware(noBIOS, "linux", nil)}, "firmware bios"); c.Status != Warn || c.Fix == "" {
		t.Errorf("no BIOS firmware: %+v", c)
	}
}

func TestCheckProfiles(t *testing.T) {
	f := Facts{
		DefaultProfile: "first-time",
		Profiles:       []api.Profile{{Name: "first-time"}, {Name: "fcos"}, {Name: "flatcar"}, {Name: "remote"}},
		Machines:       []api.Machine{{MAC: "52:54:00:00:00:01", Profile: "fcos"}},
		MissingAssets: map[string][]string{
			"first-time": {"first-time/vmlinuz"},
			"fcos":       {"fcos/kernel", "fcos/initramfs.img"},
			"flatcar":    {"flatcar/vmlinuz"},
		},
	}
	r := Report{Checks: checkProfiles(f)}
	for _, w := range []struct {
		name    string
		status  Status
		message string
	}{
		{"images for profile first-time", Fail, "missing first-time/vmlinuz (the default profile"},
		{"images for profile fcos", Fail, "missing fcos/kernel, fcos/initramfs.img (booted by 52:54:00:00:00:01)"},
		{"images for profile flatcar", Warn, "no machine uses it yet"},
		{"images for profile remote", OK, "present"},
	} {
		if c := verdict(t, r, w.name); c.Status != w.status || !strings.Contains(c.Message, w.message) {
			t.Errorf("%s: %+v", w.name, c)
		}
	}
	c := checkProfiles(Facts{ProfilesErr: errors.New("unable to open database file")})
	if len(c) != 1 || c[0].Status != Warn {
		t.Errorf("unreadable profiles: %+v", c)
	}
}

func TestCheckServiceDaemonDatabase(t *testing.T) {
	tests := []struct {
		name   string
		f      Facts
		check  string
		status Status
	}{
		{"not installed", Facts{Service: service.State{Kind: "systemd"}}, "service", Warn},
		{"running", Facts{Service: service.State{Kind: "systemd", Installed: true, Status: "running"}}, "service", OK},
		{"failed", Facts{Service: service.State{Kind: "systemd", Installed: true, Status: "failed"}}, "service", Fail},
		{"stopped", Facts{Service: service.State{Kind: "launchd", Installed: true, Status: "stopped"}}, "service", Warn},
		{"daemon answers", Facts{Daemon: &api.Status{Interface: "eth0"}}, "daemon", OK},
		{"daemon paused", Facts{Daemon: &api.Status{Paused: true}}, "daemon", Fail},
		{"no DHCP server on the link", Facts{Daemon: &api.Status{Interface: "en5", DHCP: api.DHCPStatus{Mode: "proxy", Checked: true, Warning: "no DHCP server answered on en5"}}}, "daemon", Warn},
		{"no daemon", Facts{DaemonErr: errors.New("no socket")}, "daemon", Fail},
		{"db ok", Facts{DBPath: "/var/lib/pixie/pixie.db", DBIntegrity: "ok"}, "database", OK},
		{"no db yet", Facts{DBPath: "/var/lib/pixie/pixie.db"}, "database", OK},
		{"db damaged", Facts{DBPath: "/var/lib/pixie/pixie.db", DBIntegrity: "*** in database main ***; Page 5 is never used"}, "database", Fail},
		{"db unreadable", Facts{DBPath: "/var/lib/pixie/pixie.db", DBErr: errors.New("permission denied")}, "database", Warn},
	}
	for _, tt := range tests {
		var c Check
		switch tt.check {
		case "service":
			c = checkService(tt.f)
		case "daemon":
			c = checkDaemon(tt.f)
		case "database":
			c = checkDatabase(tt.f)
		}
		if c.Status != tt.status || (c.Status != OK && c.Fix == "") {
			t.Errorf("%s: %+v, want %s with a fix", tt.name, c, tt.status)
		}
	}
}

func TestCheckRivals(t *testing.T) {
	r := Report{Checks: checkRivals(Facts{GOOS: "darwin", Processes: []string{"launchd", "bootpd"}})}
	if c := verdict(t, r, "other DHCP server: bootpd"); c.Status != Warn || !strings.Contains(c.Message, "Internet Sharing") {
		t.Errorf("bootpd: %+v", c)
	}
	if c := verdict(t, r, "other DHCP server: dnsmasq"); c.Status != OK {
		t.Errorf("dnsmasq: %+v", c)
	}
	if checkRivals(Facts{GOOS: "linux"}) != nil {
		t.Error("process checks without a process list")
	}
}

func TestEvaluateBlocking(t *testing.T) {
	f := Facts{
		GOOS: "linux", Service: service.State{Kind: "systemd", Installed: true, Status: "running"},
		Daemon: &api.Status{Interface: "eth0", Address: "10.0.0.2"}, Ports: stdPorts,
		Scan: PortScan{Supported: true, Holders: []Holder{
			holder("udp", "0.0.0.0:67", Proc{1, "pixie"}), holder("udp", "0.0.0.0:4011", Proc{1, "pixie"}),
			holder("udp", "10.0.0.2:69", Proc{1, "pixie"}), holder("tcp", "10.0.0.2:8080", Proc{1, "pixie"})}},
		Choice:     netif.Choice{Interface: "eth0", Addr: netip.MustParseAddr("10.0.0.2")},
		Candidates: []netif.Candidate{{Name: "eth0", Up: true, Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/24")}}},
		Firmware:   []api.Firmware{{Arch: "bios", Files: []api.FirmwareFile{{Name: "undionly.kpxe", Source: "embedded"}}}},
		DBPath:     "/var/lib/pixie/pixie.db", DBIntegrity: "ok",
	}
	r := Evaluate(f)
	for _, c := range r.Checks {
		if c.Status != OK {
			t.Errorf("healthy setup: %+v", c)
		}
	}
	if r.Blocking {
		t.Error("healthy setup is blocking")
	}
	f.Scan.Holders = append(f.Scan.Holders, holder("udp", "0.0.0.0:67", Proc{2, "dnsmasq"}))
	if r := Evaluate(f); !r.Blocking {
		t.Error("dnsmasq on port 67 does not block")
	}
}

// TestGather probes a data directory with a real database and no daemon.
func TestGather(t *testing.T) {
	dataDir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dataDir, "pixie.db"))
	if err != nil {
		t.Skipf("no SQLite here (built without cgo?): %v", err)
	}
	if _, err := st.CreateProfile(ctx, store.Profile{Name: "web", OS: "generic", Kernel: "https://example.com/vmlinuz", Initrds: []string{"web/initrd.img"}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if err := os.MkdirAll(filepath.Join(dataDir, "assets", "first-time"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "assets", "first-time", "vmlinuz"), []byte("k"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := Gather(ctx, Options{
		GOOS: "linux", Socket: filepath.Join(t.TempDir(), "none.sock"), DataDir: dataDir,
		Ports: api.Ports{DHCP: 1, PXE: 2, TFTP: 3, HTTP: 4}, ProcRoot: fakeProc(t, nil),
		Service: func() service.State { return service.State{Kind: "systemd"} },
	})
	if f.Daemon != nil || f.DaemonErr == nil {
		t.Errorf("daemon: %+v %v", f.Daemon, f.DaemonErr)
	}
	if f.DBIntegrity != "ok" || f.DBErr != nil {
		t.Errorf("database: %q %v", f.DBIntegrity, f.DBErr)
	}
	if f.ProfilesErr != nil || len(f.Profiles) != 2 || f.DefaultProfile != "first-time" {
		t.Fatalf("profiles: %+v %v", f.Profiles, f.ProfilesErr)
	}
	want := map[string][]string{"first-time": {"first-time/initrd.img"}, "web": {"web/initrd.img"}}
	for p, m := range want {
		if strings.Join(f.MissingAssets[p], ",") != strings.Join(m, ",") {
			t.Errorf("missing for %s: %q, want %q", p, f.MissingAssets[p], m)
		}
	}
	if !f.Scan.Supported || f.Scan.Err != nil {
		t.Errorf("scan: %+v", f.Scan)
	}
	r := Evaluate(f)
	if !r.Blocking {
		t.Error("no daemon and a default profile without its initrd: not blocking")
	}
}
