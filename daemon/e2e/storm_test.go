package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/bench/storm"
	"github.com/pixie-boot/pixie/internal/testnet"
)

// TestStorm runs the boot-storm simulator (bench/storm) with 50 clients,
// half BIOS and half UEFI, powering on within 2 s against the real pixie
// binary on a namespace LAN: every client must get through the whole chain
// (proxy offer, 4011, TFTP, iPXE's DHCP, boot.ipxe, its script, kernel,
// initrd, Ignition with its per-boot token), and pixie must have recorded
// every stage of every MAC. `bench/storm.sh` runs the same simulator with
// 200 and 1000 clients.
func TestStorm(t *testing.T) {
	testnet.RequireRoot(t)
	const n = 50
	env := storm.Start(t, storm.Options{Pixie: pixieBinary(t)})
	before, err := env.PixieUsage()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cfg := env.Config(n, 2*time.Second, 0.5)
	cfg.Logf = t.Logf
	rep, err := storm.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	after, err := env.PixieUsage()
	if err != nil {
		t.Fatalf("pixie's usage after the storm: %v (pixie: %v)", err, env.Pixie.Err())
	}
	t.Logf("storm of %d: %d completed, failures %v, time to Ignition p50 %s p99 %s max %s, wall %s, retries %v",
		n, rep.Completed, rep.Failures, rep.P50.Round(time.Millisecond), rep.P99.Round(time.Millisecond),
		rep.Max.Round(time.Millisecond), rep.Wall.Round(time.Millisecond), rep.Retries)
	t.Logf("pixie before: %s; after: %s (storm CPU %s)", before, after, (after.CPU - before.CPU).Round(10*time.Millisecond))

	if rep.Completed != n || rep.Failed() != 0 {
		t.Errorf("%d of %d clients got their Ignition config; failures by stage %v; first errors:\n%v", rep.Completed, n, rep.Failures, rep.FirstErrors(5))
	}
	// Each client saw every stage, in order.
	for _, res := range rep.Results {
		if res.Failed != "" {
			continue
		}
		var got []string
		for _, s := range res.Stages {
			got = append(got, s.Stage)
		}
		if !slices.Equal(got, storm.Stages) {
			t.Errorf("%s went through %v, want %v", res.MAC, got, storm.Stages)
		}
		wantTFTP := int64(74213) // undionly.kpxe from Debian's ipxe package
		if res.Arch == "efi-x64" {
			wantTFTP = 173792 // snponly.efi
		}
		if res.TFTPBytes <= 0 || (res.TFTPBytes != wantTFTP && testing.Verbose()) {
			t.Logf("%s (%s) got %d bytes over TFTP (Debian's file has %d)", res.MAC, res.Arch, res.TFTPBytes, wantTFTP)
		}
	}

	// pixie's side: the timeline of every MAC.
	problems, err := storm.CheckTimelines(ctx, env.API(), rep.MACs())
	if err != nil {
		t.Fatal(err)
	}
	for mac, p := range problems {
		t.Errorf("pixie timeline of %s: %s", mac, p)
	}

	// And its counters: every client answered on 67 twice and on 4011,
	// each UEFI client's size probe seen as such, one TFTP download each,
	// and every REQUEST to the LAN's DHCP server ignored.
	counters, err := env.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	uefi := 0
	for _, res := range rep.Results {
		if res.Arch == "efi-x64" {
			uefi++
		}
	}
	for name, want := range map[string]uint64{
		"dhcp.sent.dhcp-offer":            2 * n,
		"dhcp.sent.pxe-ack":               n,
		"tftp.sent":                       n,
		"tftp.tsize_probe":                uint64(uefi),
		"dhcp.ignored.request-not-for-us": n,
	} {
		if got := counters[name]; got < want {
			t.Errorf("pixie counter %s = %d, want at least %d (counters %v)", name, got, want, counters)
		}
	}
	if counters["tftp.failed"] != 0 || counters["dhcp.send-failed"] != 0 {
		t.Errorf("pixie counted failures: tftp.failed %d, dhcp.send-failed %d", counters["tftp.failed"], counters["dhcp.send-failed"])
	}
}
