package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/pixie-boot/pixie/internal/testnet"
)

const (
	macARM64       = "52:54:00:aa:64:01"
	macARM64Denied = "52:54:00:aa:64:02"
)

// TestARM64ShimGRUB boots an emulated arm64 UEFI machine (QEMU virt,
// AAVMF with Microsoft's keys enrolled and Secure Boot on) from pixie:
// AAVMF's PXE client (arch 11) takes pixie's proxy offer; pixie has no
// arm64 iPXE (Debian ships none), so the ladder offers shimaa64.efi at
// once; shim loads grubaa64.efi from pixie; Debian's GRUB asks the
// router's next-server (pixie) for its config; GRUB loads Debian's signed
// arm64 kernel and an arm64 busybox initrd over TFTP, and the initrd
// fetches its Ignition config. The loaders come from Debian's
// shim-signed:arm64 and grub-efi-arm64-signed, copied into pixie's
// firmware override; nothing in pixie's configuration names them.
//
// The negative: the same firmware refuses GRUB offered as the first stage
// (signed by Debian, not by Microsoft), which proves that AAVMF enforces
// Secure Boot and that shim is what made the good boot possible.
func TestARM64ShimGRUB(t *testing.T) {
	if testing.Short() {
		t.Skip("boots aarch64 VMs under TCG: not with -short")
	}
	shim, grub := testnet.RequireARM64VM(t)
	t.Run("shim-grub", func(t *testing.T) { testARM64Boot(t, shim, grub) })
	t.Run("not-microsoft-signed", func(t *testing.T) { testARM64Refused(t, grub) })
}

func testARM64Boot(t *testing.T, shim, grub string) {
	p := startPixieLAN(t, pixieOptions{
		WithOS:     true,
		ARM64:      true,
		RouterConf: []string{testnet.NextServer(testnet.ServerIP)},
		Firmware:   map[string]string{"shimaa64.efi": shim, "grubaa64.efi": grub},
	})
	var fw []string
	for _, a := range p.Status(t).Firmware {
		if a.Arch == "efi-arm64" {
			for _, f := range a.Files {
				fw = append(fw, f.Name)
			}
		}
	}
	if !slices.Contains(fw, "shimaa64.efi") || !slices.Contains(fw, "grubaa64.efi") {
		t.Fatalf("pixie status: efi-arm64 serves %v, want shimaa64.efi and grubaa64.efi", fw)
	}
	// The arm64 virt machine's serial port is the PL011, ttyAMA0: the
	// last console= is /dev/console, where the initrd prints its markers.
	p.appendArgs(t, defaultProfile, "console=ttyAMA0 panic=5")

	res, wall := p.Boot(context.Background(), t, testnet.ARM64SecureBoot, macARM64, nil)
	t.Logf("arm64 Secure Boot shim -> GRUB boot: %s (wall %.1fs)", res, wall.Seconds())
	got := bootedSHA(t, res)
	if !strings.Contains(res.Log, testnet.MarkerARM64SecureBoot) {
		t.Errorf("the arm64 kernel did not say %q: Secure Boot was not on\n%s", testnet.MarkerARM64SecureBoot, tail(cleanConsole(res.Log), 3000))
	}
	for _, line := range strings.Split(cleanConsole(res.Log), "\n") {
		if strings.Contains(line, "Secure Boot") || strings.Contains(line, "locked down") {
			t.Logf("console: %s", strings.TrimSpace(line))
		}
	}
	checkTimeline(t, p, macARM64, 0, []string{"dhcp", "tftp", "tftp", "script", "kernel", "initrd", "ignition"}, nil)
	es := p.Timeline(t, macARM64)
	var tftp []string
	for _, e := range es {
		if e.Stage == "tftp" {
			tftp = append(tftp, strings.Fields(e.Detail)[0])
		}
		if e.Stage == "dhcp" && e.Arch != "efi-arm64" {
			t.Errorf("dhcp event with arch %q, want efi-arm64: %+v", e.Arch, e)
		}
	}
	if !slices.Equal(tftp, []string{"shimaa64.efi", "grubaa64.efi"}) {
		t.Errorf("TFTP downloads of %s: %v, want shimaa64.efi then grubaa64.efi", macARM64, tftp)
	}
	if e, ok := firstStage(es, "script"); !ok || !strings.Contains(e.Detail, "GRUB config") {
		t.Errorf("script event %+v: want the GRUB config", e)
	}
	want := p.Ignition(t, res)
	if got != "" && got != sha256Hex(want) {
		t.Errorf("the machine fetched a config with sha256 %s; pixie serves %s for %s", got, sha256Hex(want), macARM64)
	}
	checkARM64Doctor(t, p)
}

// checkARM64Doctor asks `pixie doctor` what the daemon serves arm64
// machines: the shim+GRUB pair, from the data dir, with the CA read from
// the shim itself; and, once the machine is pinned to GRUB, which pair
// its profile boots through.
func checkARM64Doctor(t *testing.T, p *pixieLAN) {
	p.MustCLI(t, "machines", "set", macARM64, "--loader", "grub")
	// doctor exits 1 when something blocks network boot somewhere (this
	// host's own interfaces, say): the report on stdout is what counts.
	out, _ := p.CLI("doctor", "--json")
	// The report's JSON shape (helper/doctor.Report), read as the
	// user's tools would.
	var r struct {
		Checks []doctorCheck `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("pixie doctor --json: %v\n%s", err, out)
	}
	checks := map[string]doctorCheck{}
	for _, c := range r.Checks {
		checks[c.Name] = c
		t.Logf("doctor: %-4s %s: %s", c.Status, c.Name, c.Message)
	}
	for name, want := range map[string]string{
		"firmware efi-arm64":                        "shim+GRUB: shimaa64.efi (data-dir; boots what Debian Secure Boot CA signed) + grubaa64.efi (data-dir)",
		"secure boot for profile " + defaultProfile: "booted through GRUB by " + macARM64,
	} {
		c, ok := checks[name]
		if !ok || c.Status != "ok" || !strings.Contains(c.Message, want) {
			t.Errorf("doctor %q = %+v (found %v); want ok with %q", name, c, ok, want)
		}
	}
}

func testARM64Refused(t *testing.T, grub string) {
	p := startPixieLAN(t, pixieOptions{
		WithOS:     true,
		ARM64:      true,
		RouterConf: []string{testnet.NextServer(testnet.ServerIP)},
		// Debian's GRUB where shim belongs: AAVMF gets it as its first
		// stage and must check it against Microsoft's keys.
		Firmware: map[string]string{"shimaa64.efi": grub},
	})
	tap, err := p.LAN.AddTap("tapdenied")
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.LAN.RunVM(context.Background(), testnet.VMOptions{
		Firmware: testnet.ARM64SecureBoot, MAC: macARM64Denied, Tap: tap,
		StopOn: append(testnet.DefaultStopMarkers(), testnet.MarkerAccessDenied),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("arm64 Secure Boot with a Debian-signed first stage: %s", res)
	if res.Matched != testnet.MarkerAccessDenied {
		t.Errorf("AAVMF with Secure Boot did not refuse GRUB as its first stage (want %q on the console):\n%s",
			testnet.MarkerAccessDenied, tail(cleanConsole(res.Log), 3000))
	}
	es := p.Timeline(t, macARM64Denied)
	t.Logf("pixie timeline %s:\n%s", macARM64Denied, formatEvents(es))
	if e, ok := firstStage(es, "tftp"); !ok || !strings.HasPrefix(e.Detail, "shimaa64.efi") {
		t.Errorf("no TFTP download of the first stage by %s: %+v", macARM64Denied, es)
	}
	if _, ok := firstStage(es, "script"); ok {
		t.Errorf("GRUB ran although the firmware should have refused it: %+v", es)
	}
}

type doctorCheck struct {
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
	Fix     string `json:"fix"`
}
