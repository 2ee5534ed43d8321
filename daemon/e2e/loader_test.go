package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/internal/testnet"
)

// The machines of the loader tests.
const (
	macSNPOnly = "52:54:00:e2:e1:01" // the default: snponly.efi
	macIPXE    = "52:54:00:e2:e1:02" // pinned to ipxe.efi, for the timings
	macStep    = "52:54:00:e2:e1:03" // given a snponly.efi that cannot run
)

// TestLoaderLadderRealFirmware boots OVMF through pixie's first-stage
// choice:
//
//  1. a machine nobody told pixie about gets the default, snponly.efi,
//     and boots to its Ignition config;
//  2. a machine pinned to ipxe.efi (`machines set --loader ipxe`) boots
//     the same way, so the two loaders' boot times come from one run;
//  3. on a second pixie whose firmware/ override holds a snponly.efi
//     that is not a runnable image, OVMF downloads it, refuses it and
//     network-boots again: pixie records why it steps, offers ipxe.efi,
//     and the machine boots; the rung is on the machine's record.
func TestLoaderLadderRealFirmware(t *testing.T) {
	if testing.Short() {
		t.Skip("boots three UEFI VMs under TCG (about 2 minutes): not with -short")
	}
	testnet.RequireVM(t)
	var timings []string
	defer func() { t.Logf("loader boot times: %s", strings.Join(timings, "; ")) }()

	t.Run("default-and-pinned", func(t *testing.T) {
		p := startPixieLAN(t, pixieOptions{WithOS: true})
		p.appendArgs(t, defaultProfile, "panic=5")
		if st := p.Status(t); st.DefaultLoader != "auto" || st.EFIFile != "" {
			t.Errorf("pixie status: default loader %q, efi file %q; want auto and none", st.DefaultLoader, st.EFIFile)
		}

		t.Run("snponly-default", func(t *testing.T) {
			res, wall := p.Boot(context.Background(), t, testnet.UEFI, macSNPOnly, nil)
			t.Logf("UEFI boot with the default loader: %s (wall %s)", res, wall.Round(100*time.Millisecond))
			bootedSHA(t, res)
			es := p.Timeline(t, macSNPOnly)
			checkTimeline(t, p, macSNPOnly, 0, uefiStages, nil)
			wantTFTP(t, es, "snponly.efi")
			wantDetail(t, es, "dhcp", "offer snponly.efi (loader auto)")
			timings = append(timings, fmt.Sprintf("snponly.efi %s", phases(res, es)))
		})

		t.Run("ipxe-pinned", func(t *testing.T) {
			p.MustCLI(t, "machines", "set", macIPXE, "--loader", "ipxe")
			var m api.Machine
			p.CLIJSON(t, &m, "machines", "show", macIPXE)
			if m.Loader != "ipxe" {
				t.Fatalf("machines show %s: loader %q, want ipxe", macIPXE, m.Loader)
			}
			res, wall := p.Boot(context.Background(), t, testnet.UEFI, macIPXE, nil)
			t.Logf("UEFI boot pinned to ipxe: %s (wall %s)", res, wall.Round(100*time.Millisecond))
			bootedSHA(t, res)
			es := p.Timeline(t, macIPXE)
			checkTimeline(t, p, macIPXE, 0, uefiStages, nil)
			wantTFTP(t, es, "ipxe.efi")
			wantDetail(t, es, "dhcp", "offer ipxe.efi (loader ipxe, set on the machine)")
			timings = append(timings, fmt.Sprintf("ipxe.efi %s", phases(res, es)))
		})
	})

	t.Run("refused-snponly-steps-to-ipxe", func(t *testing.T) {
		// 64 KiB that start like a DOS/PE image and are noise after: the
		// TFTP download completes, OVMF's LoadImage refuses it. Seeded,
		// so every run serves the same bytes.
		junk := make([]byte, 64<<10)
		r := rand.New(rand.NewPCG(19, 19))
		for i := range junk {
			junk[i] = byte(r.Uint32())
		}
		copy(junk, "MZ")
		p := startPixieLAN(t, pixieOptions{WithOS: true, FirmwareBytes: map[string][]byte{"snponly.efi": junk}})
		p.appendArgs(t, defaultProfile, "panic=5")

		res, wall := p.Boot(context.Background(), t, testnet.UEFI, macStep, nil)
		t.Logf("UEFI boot with a refused snponly.efi: %s (wall %s)", res, wall.Round(100*time.Millisecond))
		bootedSHA(t, res)
		es := p.Timeline(t, macStep)
		t.Logf("pixie timeline %s:\n%s", macStep, formatEvents(es))

		// In order: the broken file delivered, the step and its reason,
		// ipxe.efi offered, then iPXE and the rest of the boot.
		const why = "firmware did not run snponly.efi"
		at := 0
		next := func(what string, match func(api.Event) bool) {
			t.Helper()
			for ; at < len(es); at++ {
				if match(es[at]) {
					at++
					return
				}
			}
			t.Errorf("timeline of %s: no %s (in order)", macStep, what)
		}
		next("TFTP of snponly.efi", func(e api.Event) bool { return e.Stage == "tftp" && strings.HasPrefix(e.Detail, "snponly.efi ") })
		next("step event", func(e api.Event) bool {
			return e.Stage == "dhcp" && strings.HasPrefix(e.Detail, why) && strings.HasSuffix(e.Detail, "stepping to ipxe.efi")
		})
		next("offer of ipxe.efi", func(e api.Event) bool {
			return e.Stage == "dhcp" && strings.Contains(e.Detail, "ipxe.efi") && strings.Contains(e.Detail, "stepped to ipxe")
		})
		for _, stage := range []string{"script", "kernel", "initrd", "ignition"} {
			next(stage, func(e api.Event) bool { return e.Stage == stage })
		}
		if errs := errorEvents(es, 0); len(errs) > 0 {
			t.Errorf("timeline of %s has error events:\n%s", macStep, formatEvents(errs))
		}
		if c := cleanConsole(res.Log); !strings.Contains(c, "iPXE") {
			t.Errorf("the console shows no iPXE: the machine did not run ipxe.efi?\n%s", tail(c, 40))
		}

		// The rung is on the machine's record (it had none: pixie made
		// one), and `--loader auto` resets it.
		var m api.Machine
		p.CLIJSON(t, &m, "machines", "show", macStep)
		if m.Loader != "auto" || m.LoaderStep != "ipxe" || !strings.HasPrefix(m.LoaderReason, why) || m.LoaderStepAt.IsZero() {
			t.Errorf("machines show %s: loader %q step %q reason %q at %v; want auto, ipxe, %q..., a time",
				macStep, m.Loader, m.LoaderStep, m.LoaderReason, m.LoaderStepAt, why)
		}
		out := p.MustCLI(t, "machines", "show", macStep)
		if !strings.Contains(out, "auto, stepped to ipxe") || !strings.Contains(out, "why: "+why) {
			t.Errorf("machines show %s does not say the step and why:\n%s", macStep, out)
		}
		p.MustCLI(t, "machines", "set", macStep, "--loader", "auto")
		var reset api.Machine // a fresh value: the JSON leaves empty fields out
		p.CLIJSON(t, &reset, "machines", "show", macStep)
		if reset.Loader != "auto" || reset.LoaderStep != "" || reset.LoaderReason != "" {
			t.Errorf("after --loader auto: loader %q step %q reason %q, want auto and no step", reset.Loader, reset.LoaderStep, reset.LoaderReason)
		}
		timings = append(timings, fmt.Sprintf("refused snponly.efi, stepped to ipxe.efi %s", phases(res, es)))
	})
}

// wantTFTP checks that the machine's TFTP download was file.
func wantTFTP(t *testing.T, es []api.Event, file string) {
	t.Helper()
	for _, e := range es {
		if e.Stage == "tftp" {
			if !strings.HasPrefix(e.Detail, file+" ") {
				t.Errorf("TFTP event %q, want %s", e.Detail, file)
			}
			return
		}
	}
	t.Errorf("no TFTP event, want one of %s", file)
}

// wantDetail checks that an event of stage has exactly detail.
func wantDetail(t *testing.T, es []api.Event, stage, detail string) {
	t.Helper()
	for _, e := range es {
		if e.Stage == stage && e.Detail == detail {
			return
		}
	}
	t.Errorf("no %s event %q in:\n%s", stage, detail, formatEvents(es))
}

// phases summarizes a boot: QEMU start to the Ignition marker, and from
// pixie's events the firmware's first DISCOVER to iPXE's own DHCP and to
// the Ignition fetch.
func phases(res *testnet.VMResult, es []api.Event) string {
	var first, ipxe, ign time.Time
	for _, e := range es {
		switch {
		case e.Stage == "dhcp" && first.IsZero():
			first = e.Time
		case e.Stage == "dhcp" && ipxe.IsZero() && strings.HasSuffix(e.Detail, "(iPXE)"):
			ipxe = e.Time
		case e.Stage == "ignition" && ign.IsZero():
			ign = e.Time
		}
	}
	s := fmt.Sprintf("boot %.1f s", res.Elapsed.Seconds())
	if !first.IsZero() && !ipxe.IsZero() {
		s += fmt.Sprintf(", DISCOVER->iPXE DHCP %.1f s", ipxe.Sub(first).Seconds())
	}
	if !first.IsZero() && !ign.IsZero() {
		s += fmt.Sprintf(", DISCOVER->Ignition %.1f s", ign.Sub(first).Seconds())
	}
	return s
}
