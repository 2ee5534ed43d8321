package e2e

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/internal/testnet"
)

// TestDemo is `make demo`: it builds a private virtual LAN (a router with
// its ordinary DHCP server, pixie next to it), network-boots a UEFI and a
// BIOS virtual machine from pixie with their consoles shown live, shows
// what pixie recorded, and leaves pixie running for the CLI until Ctrl-C.
// Everything it made is removed on Ctrl-C or failure.
func TestDemo(t *testing.T) {
	if os.Getenv("PIXIE_DEMO") != "1" {
		t.Skip("`make demo` runs this (PIXIE_DEMO=1): it boots VMs and then waits for Ctrl-C")
	}
	testnet.RequireVM(t)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	out := os.Stdout
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	rule := strings.Repeat("─", 72)

	say("\n%s\npixie demo: network-boot two virtual machines from pixie\n%s", rule, rule)
	say(`This builds a throw-away LAN out of Linux network namespaces, like a small
office network: a "router" hands out addresses with its own DHCP server
(dnsmasq, plain DHCP, no PXE), and pixie runs beside it on 10.77.0.2 in
proxy mode — it gives out no addresses, only the boot instructions. Nothing
of it touches this machine's real network.

Building pixie and the test OS (Debian's kernel + a tiny busybox initrd)...`)

	sockDir, err := os.MkdirTemp("", "pixie-demo-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	p := startPixieLAN(t, pixieOptions{WithOS: true, SocketDir: sockDir})
	if ctx.Err() != nil {
		return
	}
	// quiet: the firmware, iPXE and the initrd's own lines tell the story
	// better than the kernel's hundreds of boot messages.
	p.appendArgs(t, defaultProfile, "quiet panic=5")

	sudo := ""
	if os.Geteuid() == 0 && os.Getenv("SUDO_USER") != "" {
		sudo = "sudo "
	}
	say(`
pixie is serving:  proxyDHCP on UDP 67 and 4011, TFTP on 69, HTTP on %s
  its log:         %s
  its data:        %s (SQLite database, assets/first-time/ holds the OS)
  control socket:  %s

Watch the boots from another terminal, as you would on a real network:

  %s./bin/pixie --socket %s boots --follow      (after `+"`make build`"+`)
  %s%s --socket %s boots --follow

Any other pixie command works the same way (status, boots, timeline MAC,
machines, profiles).`,
		p.URL(), p.Daemon.LogPath, p.DataDir, p.Socket, sudo, p.Socket, sudo, p.Bin, p.Socket)
	if !pause(ctx, 10*time.Second, func(left int) { fmt.Fprintf(out, "\rFirst boot in %2d s (Ctrl-C stops the demo)... ", left) }) {
		return
	}
	say("")

	boots := []struct {
		fw    testnet.Firmware
		mac   string
		title string
		story string
	}{
		{testnet.UEFI, macUEFI, "UEFI machine " + macUEFI,
			`OVMF's own PXE client asks for an address (the router answers) and for
boot instructions (pixie answers: get ipxe.efi by TFTP) and downloads iPXE;
iPXE asks DHCP again and pixie sends it to its boot script over HTTP, which
loads the kernel and initrd of the default "first-time" profile; the
initrd fetches the machine's Ignition config and prints its sha256.`},
		{testnet.BIOS, macBIOS, "BIOS machine " + macBIOS,
			`SeaBIOS with the iPXE network ROM: the client is iPXE already, so pixie
sends it straight to its HTTP boot script: no TFTP step.`},
	}
	for _, b := range boots {
		say("%s\nBooting the %s\n%s\n%s\n", rule, b.title, rule, b.story)
		console := &consoleFilter{w: &prefixWriter{w: out, prefix: "  │ "}}
		res, _ := p.Boot(ctx, t, b.fw, b.mac, console)
		say("")
		if ctx.Err() != nil {
			say("Interrupted: stopping pixie and removing the virtual LAN.")
			return
		}
		sha, ok := res.IgnitionSHA256()
		if !ok {
			t.Errorf("the %s did not fetch its Ignition config: %s", b.title, res)
			say("The %s did not get to its Ignition config (%s): see the console above and pixie's log, %s.", b.title, res, p.Daemon.LogPath)
			return
		}
		say("The %s booted to its Ignition config in %.1f s (sha256 %s…).\n", b.title, res.Elapsed.Seconds(), sha[:16])
		say("$ pixie timeline %s", b.mac)
		showCLI(t, p, "timeline", b.mac)
	}

	say("%s\n$ pixie boots", rule)
	showCLI(t, p, "boots")
	say(`%s
Done. pixie keeps running on the virtual LAN so you can try the CLI in
another terminal (the commands above), e.g.

  %s%s --socket %s machines set %s --profile first-time --hostname node1

Press Ctrl-C to stop pixie and remove the virtual LAN.`, rule, sudo, p.Bin, p.Socket, macUEFI)
	<-ctx.Done()
	say("\nStopping pixie and removing the virtual LAN...")
}

// showCLI prints the output of a pixie command, indented.
func showCLI(t *testing.T, p *pixieLAN, args ...string) {
	t.Helper()
	out, err := p.CLI(args...)
	if err != nil {
		t.Errorf("%v", err)
		return
	}
	fmt.Fprintln(os.Stdout, indent(out, "  "))
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

// pause waits d, calling tick with the seconds left every second, and
// reports false if ctx ended first.
func pause(ctx context.Context, d time.Duration, tick func(left int)) bool {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for left := int(d / time.Second); left > 0; left-- {
		tick(left)
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	return true
}
