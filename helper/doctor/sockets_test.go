package doctor

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Lines as Linux 6.1 prints them: dnsmasq on 0.0.0.0:67, a TFTP server on
// 10.2.0.200:69, and on TCP a listener on 127.0.0.1:8080 and an
// established connection from port 8080 (which is not a listener).
const udpFixture = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  181: 00000000:0043 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 41234 2 0000000000000000 0
  203: C800020A:0045 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 41300 2 0000000000000000 0
`

const tcpFixture = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 51000 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:D2F4 01 00000000:00000000 00:00000000 00000000     0        0 51001 1 0000000000000000 20 4 30 10 -1
`

const udp6Fixture = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 00000000000000000000000000000000:0FAB 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 61000 2 0000000000000000 0
  101: 0000000000000000FFFF00000200000A:0045 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 61001 2 0000000000000000 0
`

func TestParseProcNet(t *testing.T) {
	got, err := parseProcNet(strings.NewReader(udpFixture), "udp")
	if err != nil {
		t.Fatal(err)
	}
	want := []procSocket{
		{proto: "udp", local: netip.MustParseAddrPort("0.0.0.0:67"), state: 7, inode: 41234},
		{proto: "udp", local: netip.MustParseAddrPort("10.2.0.200:69"), state: 7, inode: 41300},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(procSocket{}), cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
		t.Errorf("udp (-want +got):\n%s", diff)
	}
	got, err = parseProcNet(strings.NewReader(tcpFixture), "tcp")
	if err != nil || len(got) != 2 || got[0].local != netip.MustParseAddrPort("127.0.0.1:8080") || got[0].state != tcpListen || got[1].state == tcpListen {
		t.Errorf("tcp: %+v, %v", got, err)
	}
	got, err = parseProcNet(strings.NewReader(udp6Fixture), "udp")
	if err != nil || len(got) != 2 || got[0].local != netip.MustParseAddrPort("[::]:4011") || got[1].local != netip.MustParseAddrPort("10.0.0.2:69") {
		t.Errorf("udp6: %+v, %v", got, err)
	}
	if _, err := parseProcNet(strings.NewReader("header\n 1: zz:0043 00000000:0000 07 0 0 0 0 0 1\n"), "udp"); err == nil {
		t.Error("a bad address parsed")
	}
}

// fakeProc builds a proc tree: net tables, and processes whose fds link to
// sockets.
func fakeProc(t *testing.T, procs map[int][2]string) string {
	t.Helper()
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "net"), 0o755))
	must(os.WriteFile(filepath.Join(root, "net", "udp"), []byte(udpFixture), 0o644))
	must(os.WriteFile(filepath.Join(root, "net", "tcp"), []byte(tcpFixture), 0o644))
	must(os.WriteFile(filepath.Join(root, "net", "udp6"), []byte(udp6Fixture), 0o644))
	must(os.MkdirAll(filepath.Join(root, "self"), 0o755)) // not a pid
	for pid, p := range procs {
		dir := filepath.Join(root, strconv.Itoa(pid))
		must(os.MkdirAll(filepath.Join(dir, "fd"), 0o755))
		must(os.WriteFile(filepath.Join(dir, "comm"), []byte(p[0]+"\n"), 0o644))
		must(os.Symlink("/dev/null", filepath.Join(dir, "fd", "0")))
		for i, ino := range strings.Fields(p[1]) {
			must(os.Symlink("socket:["+ino+"]", filepath.Join(dir, "fd", strconv.Itoa(i+3))))
		}
	}
	return root
}

func TestScanProcFixture(t *testing.T) {
	root := fakeProc(t, map[int][2]string{
		812:  {"dnsmasq", "41234 99999"},
		900:  {"in.tftpd", "41300"},
		1200: {"pixie", "61000 51000"},
		1201: {"sshd", "51001"},
	})
	scan := scanProc(root, []int{67, 4011, 69}, []int{8080})
	if scan.Err != nil || !scan.Supported {
		t.Fatalf("scan: %+v", scan)
	}
	byAddr := map[string][]Proc{}
	for _, h := range scan.Holders {
		byAddr[h.Proto+" "+h.Local.String()] = h.Procs
	}
	want := map[string][]Proc{
		"udp 0.0.0.0:67":     {{PID: 812, Name: "dnsmasq"}},
		"udp 10.2.0.200:69":  {{PID: 900, Name: "in.tftpd"}},
		"udp [::]:4011":      {{PID: 1200, Name: "pixie"}},
		"udp 10.0.0.2:69":    nil, // nobody in the fixture holds inode 61001
		"tcp 127.0.0.1:8080": {{PID: 1200, Name: "pixie"}},
	}
	if diff := cmp.Diff(want, byAddr); diff != "" {
		t.Errorf("holders (-want +got):\n%s", diff)
	}
}

// TestScanProcLive binds a UDP socket and finds this very process holding
// it in the real /proc.
func TestScanProcLive(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc/net is Linux's")
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	port := conn.LocalAddr().(*net.UDPAddr).Port
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tport := ln.Addr().(*net.TCPAddr).Port

	scan := scanProc("/proc", []int{port}, []int{tport})
	if scan.Err != nil {
		t.Fatal(scan.Err)
	}
	comm, _ := os.ReadFile("/proc/self/comm")
	me := Proc{PID: os.Getpid(), Name: strings.TrimSpace(string(comm))}
	found := map[string]bool{}
	for _, h := range scan.Holders {
		if diff := cmp.Diff([]Proc{me}, h.Procs); diff != "" {
			t.Errorf("%s %s holders (-want +got):\n%s", h.Proto, h.Local, diff)
		}
		found[h.Proto+" "+h.Local.String()] = true
	}
	for _, w := range []string{"udp 127.0.0.1:" + strconv.Itoa(port), "tcp 127.0.0.1:" + strconv.Itoa(tport)} {
		if !found[w] {
			t.Errorf("%s not found; holders %+v", w, scan.Holders)
		}
	}
}

func TestParseLsof(t *testing.T) {
	out := "p412\ncbootpd\nf5\nPUDP\nn*:67\np900\ncpixie\nf7\nPUDP\nn192.168.2.1:69\nf8\nPTCP\nn[::1]:8080\nf9\nPTCP\nn127.0.0.1:8080->127.0.0.1:50000\n"
	got := parseLsof(strings.NewReader(out))
	want := []Holder{
		{Proto: "udp", Local: netip.MustParseAddrPort("0.0.0.0:67"), Procs: []Proc{{412, "bootpd"}}},
		{Proto: "udp", Local: netip.MustParseAddrPort("192.168.2.1:69"), Procs: []Proc{{900, "pixie"}}},
		{Proto: "tcp", Local: netip.MustParseAddrPort("[::1]:8080"), Procs: []Proc{{900, "pixie"}}},
		{Proto: "tcp", Local: netip.MustParseAddrPort("127.0.0.1:8080"), Procs: []Proc{{900, "pixie"}}},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
