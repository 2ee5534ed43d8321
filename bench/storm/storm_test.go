package storm

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/firmware"
	"github.com/pixie-boot/pixie/daemon/tftp"
)

func TestParseScript(t *testing.T) {
	script := "#!ipxe\n" +
		"echo pixie: booting 02:53:00:00:00:01 with profile first-time\n" +
		"kernel --name kernel http://10.77.0.2:8080/assets/first-time/vmlinuz?mac=02-53-00-00-00-01&stage=kernel initrd=initrd.img console=ttyS0 ignition.config.url=http://10.77.0.2:8080/ignition?mac=02-53-00-00-00-01&token=abc || goto failed\n" +
		"initrd --name initrd.img http://10.77.0.2:8080/assets/first-time/initrd.img?mac=02-53-00-00-00-01&stage=initrd || goto failed\n" +
		"boot || goto failed\n"
	k, initrds, ign, err := parseScript([]byte(script))
	if err != nil {
		t.Fatal(err)
	}
	if k != "http://10.77.0.2:8080/assets/first-time/vmlinuz?mac=02-53-00-00-00-01&stage=kernel" ||
		len(initrds) != 1 || !strings.HasSuffix(initrds[0], "stage=initrd") ||
		ign != "http://10.77.0.2:8080/ignition?mac=02-53-00-00-00-01&token=abc" {
		t.Errorf("parseScript = %q %q %q", k, initrds, ign)
	}
	// An error script (pixie's "cannot boot" answer) has no kernel.
	if _, _, _, err := parseScript([]byte("#!ipxe\necho pixie: cannot boot\nsleep 30\nchain --replace --autofree http://x/boot.ipxe\n")); err == nil {
		t.Error("parseScript accepted an error script")
	}
}

func TestChainTarget(t *testing.T) {
	c := &client{mac: net.HardwareAddr{2, 0x53, 0, 0, 0, 9}, uefi: true, guid: make([]byte, 17)}
	chain := "#!ipxe\nchain --autofree http://s/ipxe?mac=${netX/mac:hexhyp}&uuid=${uuid}&arch=${buildarch}&platform=${platform}&hostname=${hostname:uristring} || goto failed\n"
	got, err := c.chainTarget([]byte(chain))
	want := "http://s/ipxe?mac=02-53-00-00-00-09&uuid=00000000-0000-0000-0000-000000000000&arch=x86_64&platform=efi&hostname="
	if err != nil || got != want {
		t.Errorf("chainTarget = %q, %v; want %q", got, err, want)
	}
	// Settings iPXE does not have expand to nothing, as in iPXE.
	if got, err := c.chainTarget([]byte("#!ipxe\nchain http://s/x?a=${unknown}&b=${net0/mac:hex}\n")); err != nil || got != "http://s/x?a=&b=02:53:00:00:00:09" {
		t.Errorf("chainTarget = %q, %v", got, err)
	}
}

func TestCheckTimeline(t *testing.T) {
	for _, tc := range []struct {
		stages string
		ok     bool
	}{
		{"dhcp pxe tftp dhcp script kernel initrd ignition", true},
		// The 4011 and TFTP events may land around a DHCP event.
		{"pxe dhcp dhcp tftp script kernel initrd ignition", true},
		{"dhcp pxe tftp dhcp script kernel initrd", false},
		{"dhcp pxe tftp script kernel initrd ignition", false},
		{"dhcp pxe tftp dhcp script initrd kernel ignition", false},
		{"dhcp pxe tftp dhcp script kernel initrd error ignition", false},
	} {
		if got := CheckTimeline(strings.Fields(tc.stages)); (got == "") != tc.ok {
			t.Errorf("CheckTimeline(%s) = %q, want ok=%v", tc.stages, got, tc.ok)
		}
	}
}

func TestPercentileAndSpread(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	if Percentile(d, 50) != 50 || Percentile(d, 99) != 99 || Percentile(d, 100) != 100 || Percentile(nil, 50) != 0 {
		t.Errorf("Percentile: %d %d %d", Percentile(d, 50), Percentile(d, 99), Percentile(d, 100))
	}
	n := 0
	for i := range 1000 {
		if spread(i, 1000, 500) {
			n++
		}
	}
	if n != 500 || !spread(0, 10, 10) || spread(0, 10, 0) {
		t.Errorf("spread picked %d of 1000 for 500", n)
	}
}

// TestTFTPAgainstPixie runs the simulator's TFTP client against pixie's
// TFTP server on loopback: the UEFI size probe and the full download.
func TestTFTPAgainstPixie(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "firmware"), 0o755); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 3*1468+17)
	for i := range body {
		body[i] = byte(i * 7)
	}
	if err := os.WriteFile(filepath.Join(dir, "firmware", "ipxe.efi"), body, 0o644); err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := tftp.New(tftp.Config{}, tftp.Deps{Files: firmware.New(dir, nil, nil)})
	go srv.ServeConn(ctx, conn)

	get := func(probe bool) (int64, error) {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		tr := &tftpTransfer{conn: c, server: conn.LocalAddr().(*net.UDPAddr), file: "ipxe.efi", blksize: 1468,
			probe: probe, timeout: time.Second, retries: 3, onRetry: func() {}}
		return tr.run(ctx)
	}
	if n, err := get(true); err != nil || n != int64(len(body)) {
		t.Errorf("size probe = %d, %v; want %d", n, err, len(body))
	}
	if n, err := get(false); err != nil || n != int64(len(body)) {
		t.Errorf("download = %d, %v; want %d", n, err, len(body))
	}
}
