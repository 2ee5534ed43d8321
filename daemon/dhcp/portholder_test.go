package dhcp

import (
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// procNetUDP is /proc/net/udp as Linux 6.1 writes it, a dnsmasq on *:67
// and a client on 127.0.0.1:68.
const procNetUDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
15480: 00000000:0043 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 44559 2 0000000059ea62d7 0
15481: 0100007F:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 44560 2 0000000059ea62d8 0
15482: 0200000A:0043 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 0 2 0000000059ea62d9 0
`

func TestUDPInodes(t *testing.T) {
	if diff := cmp.Diff([]uint64{44559}, udpInodes(strings.NewReader(procNetUDP), 67)); diff != "" {
		t.Errorf("port 67 (-want +got):\n%s", diff)
	}
	if got := udpInodes(strings.NewReader(procNetUDP), 69); got != nil {
		t.Errorf("port 69: %v", got)
	}
}

func TestParseLsofPC(t *testing.T) {
	// `lsof -nP -F pc -iUDP:67` on a Mac with Internet Sharing on.
	out := "p1\nclaunchd\np3127\ncbootpd\n"
	want := []holder{{1, "launchd"}, {3127, "bootpd"}}
	if diff := cmp.Diff(want, parseLsofPC(strings.NewReader(out)), cmp.AllowUnexported(holder{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDescribeHolders(t *testing.T) {
	for _, tc := range []struct {
		hs   []holder
		want string
	}{
		{nil, "another program (pixie could not tell which; `pixie doctor` looks further)"},
		{[]holder{{812, "dnsmasq"}}, "PID 812 (dnsmasq)"},
		{[]holder{{1, "launchd"}}, "PID 1 (launchd), for bootpd: Internet Sharing or a VM app's shared network"},
	} {
		if got := describeHolders(tc.hs); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.hs, got, tc.want)
		}
	}
}

// The real lookup finds this test process holding a UDP port.
func TestUDPPortHoldersFindsThisProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	conn := listenLoopback(t)
	port := conn.LocalAddr().(*net.UDPAddr).Port
	hs := udpPortHolders(port)
	if !slices.ContainsFunc(hs, func(h holder) bool { return h.pid == os.Getpid() }) {
		t.Errorf("holders of port %d: %v, want pid %d", port, hs, os.Getpid())
	}
}
