package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/internal/testnet"
)

// The machines of the Secure Boot test.
const (
	macSecureGRUB = "52:54:00:5b:00:01"
	macSecureIPXE = "52:54:00:5b:00:02"
	macSecureLost = "52:54:00:5b:00:03"
	macSecureAuto = "52:54:00:5b:00:04"
)

// TestSecureBootShimGRUB boots OVMF with Secure Boot enforced (Microsoft's
// keys enrolled) through the signed chain pixie serves: shim from pixie's
// proxy offer, shim loads grubx64.efi from pixie, Debian's GRUB asks the
// router's next-server (pixie) for its config, pixie renders it from the
// default profile, GRUB loads Debian's signed kernel and the test initrd
// over TFTP, and the initrd fetches its Ignition config with its per-boot
// token. The loaders come from Debian's shim-signed and
// grub-efi-amd64-signed, copied into pixie's firmware override.
//
// The negative, on a second LAN: the same firmware refuses Debian's
// unsigned ipxe.efi, which proves Secure Boot is enforced.
func TestSecureBootShimGRUB(t *testing.T) {
	if testing.Short() {
		t.Skip("boots two VMs under TCG: not with -short")
	}
	shim, grub := testnet.RequireSecureBootVM(t)

	t.Run("shim-grub", func(t *testing.T) {
		p := startPixieLAN(t, pixieOptions{
			WithOS:     true,
			RouterConf: []string{testnet.NextServer(testnet.ServerIP)},
			Firmware:   map[string]string{"shimx64.efi": shim, "grubx64.efi": grub},
		})
		// A MAC pixie has never seen, pinned to GRUB before it boots:
		// its first offer is shim, no ladder step.
		p.MustCLI(t, "machines", "set", macSecureGRUB, "--loader", "grub")
		var fw []string
		for _, a := range p.Status(t).Firmware {
			if a.Arch == "efi-x64" {
				for _, f := range a.Files {
					fw = append(fw, f.Name)
				}
			}
		}
		if !slices.Contains(fw, "shimx64.efi") || !slices.Contains(fw, "grubx64.efi") {
			t.Fatalf("pixie status: efi-x64 serves %v, want shimx64.efi and grubx64.efi", fw)
		}
		p.appendArgs(t, defaultProfile, "panic=5")

		res, wall := p.Boot(context.Background(), t, testnet.UEFISecureBoot, macSecureGRUB, nil)
		t.Logf("Secure Boot shim -> GRUB boot: %s (wall %.1fs)", res, wall.Seconds())
		got := bootedSHA(t, res)
		if !strings.Contains(res.Log, testnet.MarkerSecureBoot) {
			t.Errorf("the kernel did not say %q: Secure Boot was not on\n%s", testnet.MarkerSecureBoot, tail(cleanConsole(res.Log), 3000))
		}
		checkTimeline(t, p, macSecureGRUB, 0, []string{"dhcp", "tftp", "tftp", "script", "kernel", "initrd", "ignition"}, nil)
		es := p.Timeline(t, macSecureGRUB)
		var tftp []string
		for _, e := range es {
			if e.Stage == "tftp" {
				tftp = append(tftp, strings.Fields(e.Detail)[0])
			}
		}
		if !slices.Equal(tftp, []string{"shimx64.efi", "grubx64.efi"}) {
			t.Errorf("TFTP downloads of %s: %v, want shimx64.efi then grubx64.efi", macSecureGRUB, tftp)
		}
		if e, ok := firstStage(es, "script"); !ok || !strings.Contains(e.Detail, "GRUB config") {
			t.Errorf("script event %+v: want the GRUB config", e)
		}
		want := p.Ignition(t, res)
		if got != "" && got != sha256Hex(want) {
			t.Errorf("the machine fetched a config with sha256 %s; pixie serves %s for %s", got, sha256Hex(want), macSecureGRUB)
		}
		// shim's optional files and GRUB's module lists are asked for on
		// every boot and are never there: no warnings about this machine
		// for a good boot.
		var asked, warned []string
		for _, line := range strings.Split(p.Daemon.Log(), "\n") {
			if strings.Contains(line, "server=tftp") {
				if i := strings.Index(line, " file="); i >= 0 {
					asked = append(asked, strings.Fields(line[i+6:])[0])
				}
			}
			if (strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR")) && strings.Contains(line, "mac="+macSecureGRUB) {
				warned = append(warned, line)
			}
		}
		t.Logf("TFTP names in pixie's log: %s", strings.Join(slices.Compact(asked), " "))
		if len(warned) > 0 {
			t.Errorf("pixie warned during a good Secure Boot boot:\n%s", strings.Join(warned, "\n"))
		}
	})

	// A router that does not name pixie as next-server: shim (which
	// follows the proxy offer) loads GRUB from pixie, GRUB looks for its
	// config at the router and stops at its prompt. pixie records, after
	// its 60 s wait, why and what to do.
	t.Run("no-next-server", func(t *testing.T) {
		p := startPixieLAN(t, pixieOptions{
			WithOS:    true,
			ServeArgs: []string{"--efi-file", "shimx64.efi"},
			Firmware:  map[string]string{"shimx64.efi": shim, "grubx64.efi": grub},
		})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		tap, err := p.LAN.AddTap("taplost")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan *testnet.VMResult, 1)
		go func() {
			res, err := p.LAN.RunVM(ctx, testnet.VMOptions{Firmware: testnet.UEFISecureBoot, MAC: macSecureLost, Tap: tap, Timeout: 150 * time.Second})
			if err != nil {
				t.Error(err)
			}
			done <- res
		}()
		var explained *api.Event
		deadline := time.Now().Add(150 * time.Second)
		for explained == nil && time.Now().Before(deadline) {
			time.Sleep(2 * time.Second)
			for _, e := range p.Timeline(t, macSecureLost) {
				if e.Stage == "error" && strings.Contains(e.Detail, "never asked pixie for its GRUB config") {
					explained = &e
				}
			}
		}
		cancel()
		res := <-done
		es := p.Timeline(t, macSecureLost)
		t.Logf("pixie timeline %s:\n%s", macSecureLost, formatEvents(es))
		if explained == nil {
			t.Fatalf("no explanation event for %s (GRUB fetched, no config asked)\nconsole:\n%s", macSecureLost, tail(cleanConsole(res.Log), 2000))
		}
		for _, want := range []string{"grubx64.efi", "next-server", testnet.ServerIP, "full DHCP mode"} {
			if !strings.Contains(explained.Detail, want) {
				t.Errorf("explanation lacks %q: %s", want, explained.Detail)
			}
		}
		if _, ok := firstStage(es, "script"); ok {
			t.Errorf("GRUB did get a config from pixie: %+v", es)
		}
	})

	t.Run("auto-ladder", func(t *testing.T) { autoLadderUnderSecureBoot(t, shim, grub) })

	// ipxe.efi pinned as the server's loader: the ladder's default,
	// snponly.efi, is refused the same way (the ladder test follows it).
	t.Run("ipxe-refused", func(t *testing.T) {
		p := startPixieLAN(t, pixieOptions{WithOS: true, ServeArgs: []string{"--loader", "ipxe"}})
		ctx := context.Background()
		tap, err := p.LAN.AddTap("tapsb")
		if err != nil {
			t.Fatal(err)
		}
		res, err := p.LAN.RunVM(ctx, testnet.VMOptions{
			Firmware: testnet.UEFISecureBoot, MAC: macSecureIPXE, Tap: tap,
			StopOn: append(testnet.DefaultStopMarkers(), testnet.MarkerAccessDenied),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("Secure Boot with ipxe.efi: %s", res)
		if res.Matched != testnet.MarkerAccessDenied {
			t.Errorf("OVMF with Secure Boot did not refuse ipxe.efi (want %q on the console):\n%s", testnet.MarkerAccessDenied, tail(cleanConsole(res.Log), 3000))
		}
		es := p.Timeline(t, macSecureIPXE)
		t.Logf("pixie timeline %s:\n%s", macSecureIPXE, formatEvents(es))
		if e, ok := firstStage(es, "tftp"); !ok || !strings.HasPrefix(e.Detail, "ipxe.efi") {
			t.Errorf("no TFTP download of ipxe.efi by %s: %+v", macSecureIPXE, es)
		}
		if _, ok := firstStage(es, "script"); ok {
			t.Errorf("iPXE ran under Secure Boot: %+v", es)
		}
	})
}

// autoLadderUnderSecureBoot boots a fresh MAC on the default loader (auto)
// under Secure Boot: the firmware refuses snponly.efi, pixie sees it
// network-boot again and steps to ipxe.efi, the firmware refuses that too,
// pixie steps to shim, and the signed chain boots. Where OVMF runs out of
// boot options in between, the VM is started again, as a person
// power-cycles a machine stuck at "Access Denied".
func autoLadderUnderSecureBoot(t *testing.T, shim, grub string) {
	p := startPixieLAN(t, pixieOptions{
		WithOS:     true,
		RouterConf: []string{testnet.NextServer(testnet.ServerIP)},
		Firmware:   map[string]string{"shimx64.efi": shim, "grubx64.efi": grub},
	})
	p.appendArgs(t, defaultProfile, "panic=5")
	tap, err := p.LAN.AddTap("tapauto")
	if err != nil {
		t.Fatal(err)
	}
	var res *testnet.VMResult
	start := time.Now()
	var runs []string
	for run := 1; run <= 3; run++ {
		res, err = p.LAN.RunVM(context.Background(), testnet.VMOptions{
			Firmware: testnet.UEFISecureBoot, MAC: macSecureAuto, Tap: tap, Timeout: 240 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		p.mu.Lock()
		p.lastVM = res
		p.mu.Unlock()
		runs = append(runs, fmt.Sprintf("power-on %d: %s", run, res))
		if res.Matched == testnet.MarkerIgnitionSHA256 || res.Matched == testnet.MarkerFetchFailed || res.Matched == "Kernel panic" {
			break
		}
	}
	wall := time.Since(start)
	t.Logf("auto ladder under Secure Boot, %d power-on(s), wall %s:\n  %s", len(runs), wall.Round(100*time.Millisecond), strings.Join(runs, "\n  "))
	got := bootedSHA(t, res)
	if !strings.Contains(res.Log, testnet.MarkerSecureBoot) {
		t.Errorf("the kernel did not say %q: Secure Boot was not on\n%s", testnet.MarkerSecureBoot, tail(cleanConsole(res.Log), 3000))
	}
	es := p.Timeline(t, macSecureAuto)
	t.Logf("pixie timeline %s:\n%s", macSecureAuto, formatEvents(es))
	at := 0
	next := func(what string, match func(api.Event) bool) {
		t.Helper()
		for ; at < len(es); at++ {
			if match(es[at]) {
				at++
				return
			}
		}
		t.Errorf("timeline of %s: no %s (in order)", macSecureAuto, what)
	}
	const refused = "firmware did not run "
	next("offer of snponly.efi", func(e api.Event) bool { return e.Stage == "dhcp" && strings.Contains(e.Detail, "snponly.efi") })
	next("TFTP of snponly.efi", func(e api.Event) bool { return e.Stage == "tftp" && strings.HasPrefix(e.Detail, "snponly.efi ") })
	next("step to ipxe.efi", func(e api.Event) bool {
		return e.Stage == "dhcp" && strings.HasPrefix(e.Detail, refused+"snponly.efi") && strings.HasSuffix(e.Detail, "stepping to ipxe.efi")
	})
	next("step to shim", func(e api.Event) bool {
		return e.Stage == "dhcp" && strings.HasPrefix(e.Detail, refused+"ipxe.efi") && strings.Contains(e.Detail, "Secure Boot is probably on; offering shim")
	})
	next("TFTP of shimx64.efi", func(e api.Event) bool { return e.Stage == "tftp" && strings.HasPrefix(e.Detail, "shimx64.efi ") })
	next("TFTP of grubx64.efi", func(e api.Event) bool { return e.Stage == "tftp" && strings.HasPrefix(e.Detail, "grubx64.efi ") })
	for _, stage := range []string{"script", "kernel", "initrd", "ignition"} {
		next(stage, func(e api.Event) bool { return e.Stage == stage })
	}
	if _, ok := firstStage(es, "error"); ok {
		t.Errorf("timeline of %s has error events:\n%s", macSecureAuto, formatEvents(errorEvents(es, 0)))
	}
	if want := p.Ignition(t, res); got != "" && got != sha256Hex(want) {
		t.Errorf("the machine fetched a config with sha256 %s; pixie serves %s for %s", got, sha256Hex(want), macSecureAuto)
	}
	var m api.Machine
	p.CLIJSON(t, &m, "machines", "show", macSecureAuto)
	if m.LoaderStep != "grub" || !strings.Contains(m.LoaderReason, "Secure Boot is probably on") {
		t.Errorf("machines show %s: loader %q step %q reason %q; want auto stepped to grub because of Secure Boot", macSecureAuto, m.Loader, m.LoaderStep, m.LoaderReason)
	}
	if b, ok := p.BootOf(t, macSecureAuto); !ok || b.LoaderStep != "grub" {
		t.Errorf("pixie boots: the row of %s does not show its loader (grub): %+v", macSecureAuto, b)
	}
}

func firstStage(es []api.Event, stage string) (api.Event, bool) {
	for _, e := range es {
		if string(e.Stage) == stage {
			return e, true
		}
	}
	return api.Event{}, false
}
