package e2e

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/internal/testnet"
)

// TestTwoInstancesSharePostgres runs two pixie instances, each in the
// server namespace of its own LAN segment, on one PostgreSQL database
// (reached through its unix socket, a file both namespaces see). A
// scripted PXE client on each segment goes through the chain — proxy offer,
// TFTP of the first stage, the iPXE loop-break, its boot script and its
// Ignition config. A machine and a profile set through instance A are what
// instance B boots that machine with, and `pixie boots` and `pixie
// timeline` on A show the steps B served, with B's name, and A's live event
// stream shows them as B serves them (LISTEN/NOTIFY).
func TestTwoInstancesSharePostgres(t *testing.T) {
	testnet.RequireRoot(t)
	testnet.RequireTools(t, "dnsmasq")
	if _, err := testnet.Busybox(); err != nil {
		t.Skip(err)
	}
	store := testPG.NewDatabase(t)
	a := startPixieLAN(t, pixieOptions{ServeArgs: []string{"--store", store, "--instance", "boot-a"}})
	b := startPixieLAN(t, pixieOptions{ServeArgs: []string{"--store", store, "--instance", "boot-b"}})

	for p, name := range map[*pixieLAN]string{a: "boot-a", b: "boot-b"} {
		if st := p.Status(t).Store; st.Backend != "postgres" || st.Instance != name || strings.Contains(st.Location, "password") {
			t.Errorf("status of %s names store %+v", name, st)
		}
	}
	// Each instance has its own asset store: the profile's kernel is on
	// both hosts, as images are files, not database rows.
	for _, p := range []*pixieLAN{a, b} {
		for _, f := range []string{"worker/vmlinuz", firstTimeKernel, firstTimeInitrd} {
			path := filepath.Join(p.DataDir, "assets", f)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte("not really a kernel"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	nsB, err := b.LAN.AddClient("pxe", "10.77.0.50/24")
	if err != nil {
		t.Fatal(err)
	}
	clientB := newDHCPClient(t, b.LAN, nsB)
	macB := clientB.mac.String()

	// Told to instance A only.
	ign := filepath.Join(t.TempDir(), "worker.ign")
	if err := os.WriteFile(ign, []byte(`{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/etc/hostname","mode":420,"overwrite":true,"contents":{"source":"data:,{{.Hostname}}"}}]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	a.MustCLI(t, "profiles", "add", "worker", "--kernel", "worker/vmlinuz", "--args", "console=ttyS0 ignition.config.url={{.IgnitionURL}}", "--ignition", ign)
	a.MustCLI(t, "machines", "set", macB, "--profile", "worker", "--hostname", "shared-node")

	nsA, err := a.LAN.AddClient("pxe", "10.77.0.50/24")
	if err != nil {
		t.Fatal(err)
	}
	clientA := newDHCPClient(t, a.LAN, nsA)
	bootChain(t, a, nsA, clientA, "first-time")
	// A's live stream (what `pixie boots --follow` and the tray read),
	// opened before B serves anything: B's steps arrive on it.
	stream, err := api.NewClient(a.Socket).Events(t.Context(), -1)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	config := bootChain(t, b, nsB, clientB, "worker")
	live := map[string]string{}
	for timeout := time.After(15 * time.Second); live["ignition"] == ""; {
		select {
		case e, ok := <-stream.Events():
			if !ok {
				t.Fatalf("A's event stream ended: %v", stream.Err())
			}
			if e.MAC == macB {
				live[e.Stage] = e.Instance
			}
			continue
		case <-timeout:
		}
		break
	}
	if live["dhcp"] != "boot-b" || live["script"] != "boot-b" || live["ignition"] != "boot-b" {
		t.Errorf("A's live stream during B's boot of %s: %v; want dhcp, script and ignition by boot-b", macB, live)
	}
	if !strings.Contains(config, "data:,shared-node") {
		t.Errorf("instance B served %s a config without the hostname set through instance A:\n%s", macB, config)
	}

	// A sees what B served, and says B served it.
	var row api.BootSummary
	var ok bool
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if row, ok = a.BootOf(t, macB); ok && row.Last.Stage == "ignition" {
			break
		}
	}
	if !ok || row.Last.Stage != "ignition" || row.Last.Instance != "boot-b" || row.Profile != "worker" || row.Hostname != "shared-node" {
		t.Errorf("pixie boots on A, row of B's machine = %+v (found %v); want its ignition step served by boot-b", row, ok)
	}
	seen := map[string]string{}
	for _, e := range a.Timeline(t, macB) {
		seen[e.Stage] = e.Instance
	}
	// (The TFTP step is not in a MAC's timeline here: this client took no
	// lease, so pixie cannot tell whose address fetched the file.)
	for _, st := range []string{"dhcp", "script", "ignition"} {
		if seen[st] != "boot-b" {
			t.Errorf("timeline on A of B's machine: stage %s by %q, want boot-b (all: %v)", st, seen[st], seen)
		}
	}
	macA := clientA.mac.String()
	if r, ok := b.BootOf(t, macA); !ok || r.Last.Instance != "boot-a" {
		t.Errorf("pixie boots on B, row of A's machine = %+v (found %v); want served by boot-a", r, ok)
	}
}

// bootChain walks one PXE client in namespace ns through p's boot chain
// and returns the Ignition config it is served: the proxy offer (BIOS),
// the first stage over TFTP, the offer to iPXE (the loop-break), the
// machine's script, which must boot profile, and the config its kernel
// line names.
func bootChain(t *testing.T, p *pixieLAN, ns string, c *dhcpClient, profile string) string {
	t.Helper()
	pixieID := net.ParseIP(testnet.ServerIP).To4()
	bios := []dhcpv4.Modifier{
		dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00000:UNDI:002001")),
		dhcpv4.WithGeneric(dhcpv4.OptionClientSystemArchitectureType, []byte{0, 0}),
		dhcpv4.WithGeneric(dhcpv4.OptionClientNetworkInterfaceIdentifier, []byte{1, 2, 1}),
	}
	offer := from(c.exchange(t, dhcpv4.MessageTypeDiscover, nil, bios, 10*time.Second, pixieID), pixieID)
	if offer == nil {
		t.Fatalf("no proxy offer from %s", p.LAN.ServerNS)
	}
	checkProxyReply(t, offer, dhcpv4.MessageTypeOffer, "undionly.kpxe")
	ctx := t.Context()
	tftp := p.LAN.CommandContext(ctx, ns, p.Busybox, "tftp", "-g", "-r", "undionly.kpxe", "-l", "/dev/null", testnet.ServerIP)
	if out, err := tftp.CombinedOutput(); err != nil {
		t.Fatalf("TFTP of undionly.kpxe from %s: %v: %s", p.LAN.ServerNS, err, out)
	}
	ipxe := append(bios, dhcpv4.WithGeneric(dhcpv4.OptionUserClassInformation, []byte("iPXE")))
	offer = from(c.exchange(t, dhcpv4.MessageTypeDiscover, nil, ipxe, 10*time.Second, pixieID), pixieID)
	if offer == nil {
		t.Fatalf("no proxy offer to iPXE from %s", p.LAN.ServerNS)
	}
	checkProxyReply(t, offer, dhcpv4.MessageTypeOffer, p.URL()+"/boot.ipxe")
	script, err := p.Fetch(ns, p.scriptURL(c.mac.String()))
	if err != nil {
		t.Fatal(err)
	}
	k, ok := kernelURL(string(script))
	if !ok || !strings.Contains(k, profile) {
		t.Fatalf("script for %s does not boot profile %s:\n%s", c.mac, profile, script)
	}
	m := regexp.MustCompile(`ignition\.config\.url=(\S+)`).FindStringSubmatch(string(script))
	if m == nil {
		t.Fatalf("script for %s names no Ignition URL:\n%s", c.mac, script)
	}
	config, err := p.Fetch(ns, m[1])
	if err != nil {
		t.Fatal(err)
	}
	return string(config)
}
