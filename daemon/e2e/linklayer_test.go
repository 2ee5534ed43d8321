package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/internal/testnet"
)

// TestBootBesideDnsmasqOnTheSameHost: the LAN's DHCP server is a dnsmasq
// on pixie's own host, holding *:67 (no bind-interfaces, the way a
// distribution's default dnsmasq runs). pixie cannot bind port 67, says
// who holds it, answers the proxyDHCP side over AF_PACKET, and a real OVMF
// VM boots to its Ignition config.
func TestBootBesideDnsmasqOnTheSameHost(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM under TCG (about 30 s): not with -short")
	}
	testnet.RequireVM(t)
	bin := pixieBinary(t)
	busybox, err := testnet.Busybox()
	if err != nil {
		t.Fatal(err)
	}
	lan := testnet.NewLAN(t, testnet.Options{})
	p := &pixieLAN{LAN: lan, Bin: bin, Busybox: busybox, DataDir: filepath.Join(lan.Dir, "data")}
	// The router only advertises IPv6 (iPXE waits ~16 s without it); the
	// addresses come from the server namespace's dnsmasq.
	if p.Router, err = lan.StartDnsmasq(lan.RouterNS, "router-ra", "enable-ra",
		fmt.Sprintf("dhcp-range=%s,ra-only,%d", testnet.IPv6Prefix, testnet.IPv6PrefixLen)); err != nil {
		t.Fatal(err)
	}
	dhcpServer, err := lan.StartDHCPHolding67(lan.ServerNS)
	if err != nil {
		t.Fatal(err)
	}
	k, err := testnet.FindKernel()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(p.DataDir, "assets", filepath.Dir(firstTimeKernel)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := testnet.CopyFile(filepath.Join(p.DataDir, "assets", firstTimeKernel), k.Path); err != nil {
		t.Fatal(err)
	}
	if err := testnet.WriteInitrd(filepath.Join(p.DataDir, "assets", firstTimeInitrd), k); err != nil {
		t.Fatal(err)
	}
	sockDir, err := os.MkdirTemp("", "pixie-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	p.Socket = filepath.Join(sockDir, "pixie.sock")
	t.Cleanup(func() {
		if t.Failed() {
			p.dump(t)
			t.Logf("server dnsmasq log:\n%s", tail(dhcpServer.Log(), 60))
		}
	})
	if p.Daemon, err = lan.Start(lan.ServerNS, bin, p.serveArgs()...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Daemon.Stop)
	if err := p.Daemon.WaitLog("pixie serving", 60*time.Second); err != nil {
		t.Fatal(err)
	}
	waitHTTP(t, lan, busybox, p.URL()+"/healthz")

	st := p.Status(t)
	if !strings.Contains(st.DHCPLinkLayer, "port 67 is held by PID") || !strings.Contains(st.DHCPLinkLayer, "(dnsmasq)") {
		t.Errorf("pixie status: dhcp_link_layer = %q, want it to name dnsmasq holding port 67", st.DHCPLinkLayer)
	}
	if !st.Serving {
		t.Errorf("pixie status: not serving (%q)", st.Problem)
	}

	res, wall := p.Boot(context.Background(), t, testnet.UEFI, macUEFI, nil)
	t.Logf("UEFI boot beside dnsmasq, proxyDHCP over AF_PACKET: %s (wall %s)", res, wall.Round(100*time.Millisecond))
	got := bootedSHA(t, res)
	checkTimeline(t, p, macUEFI, 0, uefiStages, nil)
	if want := p.Ignition(t, res); got != "" && got != sha256Hex(want) {
		t.Errorf("the VM fetched a config with sha256 %s; pixie serves %s", got, sha256Hex(want))
	}
	if !strings.Contains(dhcpServer.Log(), "DHCPACK(eth0)") {
		t.Errorf("the VM's address did not come from the dnsmasq beside pixie")
	}
	// OVMF takes the proxy offer without asking again on 4011 here (it
	// does on a LAN whose DHCP server has another address), so only the
	// offers over the link layer are certain.
	c := p.Status(t).Counters
	if c["dhcp.sent.dhcp-offer"] == 0 || c["dhcp.ignored.request-for-port-holder"] == 0 {
		t.Errorf("counters: %v", c)
	}
	t.Logf("counters: %v", c)

	// `pixie status` and `pixie doctor` say that proxyDHCP runs beside
	// the holder over the link layer, and why; doctor runs in the server
	// namespace, where it sees dnsmasq's socket.
	text := p.MustCLI(t, "status")
	for _, want := range []string{"proxyDHCP:  proxyDHCP over the link layer: port 67 is held by PID", "were DHCPREQUESTs for the DHCP server holding the port on this host"} {
		if !strings.Contains(text, want) {
			t.Errorf("pixie status has no %q:\n%s", want, text)
		}
	}
	out, _ := lan.Command(lan.ServerNS, bin, "--socket", p.Socket, "doctor", "--data-dir", p.DataDir, "--json").Output()
	var rep struct {
		Checks []struct{ Name, Status, Message string }
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("pixie doctor --json: %v\n%s", err, out)
	}
	seen := 0
	for _, c := range rep.Checks {
		switch {
		case c.Name == "proxyDHCP port (udp 67)":
			seen++
			if c.Status != "ok" || !strings.Contains(c.Message, "dnsmasq") || !strings.Contains(c.Message, "pixie answers beside it over the link layer") {
				t.Errorf("doctor on port 67: %+v", c)
			}
		case c.Name == "proxyDHCP path":
			seen++
			if !strings.Contains(c.Message, "port 67 is held by PID") {
				t.Errorf("doctor's proxyDHCP path: %+v", c)
			}
		}
	}
	if seen != 2 {
		t.Errorf("doctor lacks the port 67 or proxyDHCP path check:\n%s", out)
	}
}
