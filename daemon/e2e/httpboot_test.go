package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/internal/testnet"
)

const macHTTPBoot = "52:54:00:e2:14:10"

// TestUEFIHTTPBoot boots OVMF with its PXE options switched off through
// fw_cfg, so its UEFI HTTPv4 boot option is the only network boot it has:
// its DISCOVER says HTTPClient (arch 16), pixie's proxy offer names the
// loader as an http:// URL, OVMF downloads and runs it (snponly.efi, the
// default, on OVMF's own virtio driver), and the boot goes on through iPXE
// to the Ignition fetch. Not one TFTP request is made: pixie records no
// tftp event and logs no TFTP transfer.
func TestUEFIHTTPBoot(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a UEFI VM under TCG (about a minute): not with -short")
	}
	testnet.RequireVM(t)
	p := startPixieLAN(t, pixieOptions{WithOS: true})
	p.appendArgs(t, defaultProfile, "panic=5")

	res := p.bootWith(t, testnet.VMOptions{Firmware: testnet.UEFIHTTP, MAC: macHTTPBoot, Timeout: 240 * time.Second})
	t.Logf("UEFI HTTP boot: %s", res)
	bootedSHA(t, res)
	es := p.Timeline(t, macHTTPBoot)
	// No tftp between the firmware's offer and iPXE's own DHCP.
	checkTimeline(t, p, macHTTPBoot, 0, []string{"dhcp", "dhcp", "script", "kernel", "initrd", "ignition"}, []string{"tftp", "pxe"})

	url := p.URL() + "/firmware/snponly.efi"
	wantDetail(t, es, "dhcp", "offer "+url+" (HTTPClient; loader auto)")
	log := p.Daemon.Log()
	if !strings.Contains(log, "firmware served over HTTP") || !strings.Contains(log, "snponly.efi") {
		t.Errorf("pixie's log shows no HTTP download of snponly.efi")
	}
	// Everything pixie's TFTP server logs carries server=tftp: after its
	// start, not one line.
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, " server=tftp") && !strings.Contains(l, `msg="TFTP server listening"`) {
			t.Errorf("pixie's TFTP server saw a request: %s", l)
		}
	}
	if c := cleanConsole(res.Log); !strings.Contains(c, "iPXE") {
		t.Errorf("no iPXE on the console: the HTTP-booted loader did not run?\n%s", tail(c, 40))
	}
	t.Logf("UEFI HTTP boot times: %s", phases(res, es))
}
