package e2e

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/internal/testnet"
)

// The machines of the real-Ignition test.
const (
	macIgnE1000E = "52:54:00:e2:14:01" // OVMF, e1000e NIC with its iPXE ROM: Ignition applies the config
	macIgnNewer  = "52:54:00:e2:14:02" // SeaBIOS, virtio: served a spec Ignition 2.14 does not read
)

// TestRealIgnitionApplies boots Debian's Ignition 2.14 (spec up to 3.3.0)
// in the test initrd against what pixie serves:
//
//  1. a profile made by `profiles add --ssh-key` (Butane fcos 1.5.0, which
//     translates to spec 3.4.0) with `--ignition-spec 3.3.0`, and a
//     machine with its own hostname and an overlay config of its own: on
//     OVMF with an Intel e1000e NIC, Ignition's fetch and files stages run
//     and the test checks what they wrote: /etc/hostname from
//     {{.Hostname}}, user core with the --ssh-key key, the overlay's file,
//     the phone-home unit enabled. The initrd runs that unit's ExecStart
//     (curl, as systemd would), and pixie records the booted stage.
//     OVMF has no e1000e driver: the card's iPXE option ROM (ipxe-qemu)
//     is what network-boots, with iPXE's intel driver, so the firmware's
//     first DISCOVER is already iPXE's and pixie answers with the script
//     (no TFTP): the second iPXE driver path after virtio.
//  2. the same config without the spec limit (a generic OS: pixie serves
//     3.4.0) on SeaBIOS: Ignition refuses it, and the test sees Ignition's
//     own message.
func TestRealIgnitionApplies(t *testing.T) {
	if testing.Short() {
		t.Skip("boots two VMs under TCG (about 2 minutes): not with -short")
	}
	testnet.RequireVM(t)
	testnet.RequireIgnition(t)
	p := startPixieLAN(t, pixieOptions{WithOS: true})

	k, err := testnet.FindKernel()
	if err != nil {
		t.Fatal(err)
	}
	initrd := filepath.Join(p.DataDir, "assets", "ignition", "initrd.img")
	if err := os.MkdirAll(filepath.Dir(initrd), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := testnet.WriteIgnitionInitrd(initrd, k); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	key := testSSHKey("pixie-e2e@ignition")
	keyFile := filepath.Join(dir, "id.pub")
	overlayFile := filepath.Join(dir, "overlay.ign")
	// The machine's own config: a file of its own, with a template value.
	overlay := `{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/etc/pixie/overlay","mode":420,` +
		`"contents":{"source":"data:,overlay%20of%20{{.Hostname}}"}}]}}`
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(overlayFile, []byte(overlay), 0o644); err != nil {
		t.Fatal(err)
	}
	args := "console=ttyS0 panic=5 ignition.firstboot ignition.platform.id=metal ignition.config.url={{.IgnitionURL}}"
	add := func(name string, extra ...string) {
		p.MustCLI(t, append([]string{"profiles", "add", name, "--kernel", firstTimeKernel, "--initrd", "ignition/initrd.img",
			"--args", args, "--ssh-key", keyFile}, extra...)...)
	}
	add("debian-ignition", "--ignition-spec", "3.3")
	add("unlimited")
	var (
		mu      sync.Mutex
		timings []string
	)
	took := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		timings = append(timings, s)
	}
	// The two VMs boot side by side (one TCG vCPU each on the 2 cores):
	// it saves CI most of a boot; the times below overlap.
	t.Run("boots", func(t *testing.T) {
		t.Run("applied-on-e1000e", func(t *testing.T) {
			t.Parallel()
			const host = "node-e2e"
			p.MustCLI(t, "machines", "set", macIgnE1000E, "--profile", "debian-ignition", "--hostname", host,
				"--ignition", overlayFile)
			res := p.bootWith(t, testnet.VMOptions{Firmware: testnet.UEFI, NIC: testnet.E1000E, MAC: macIgnE1000E,
				Timeout: 300 * time.Second, StopOn: ignitionStops()})
			t.Logf("UEFI e1000e boot to Ignition applied: %s", res)
			rep := ignitionApplied(t, res)
			if nic := rep.one(t, "PIXIE-E2E-NIC="); nic != "e1000e" {
				t.Errorf("Linux ran on NIC driver %q, want e1000e", nic)
			}
			if c := cleanConsole(res.Log); !strings.Contains(c, "iPXE") {
				t.Errorf("no iPXE on the console")
			}
			if got := rep.one(t, testnet.MarkerIgnHostname); got != host {
				t.Errorf("/etc/hostname = %q, want %q (the machine's {{.Hostname}})", got, host)
			}
			rep.wantFile(t, "/etc/hostname", "0644", host)
			rep.wantFile(t, "/etc/pixie/overlay", "0644", "overlay of "+host)
			if u := rep.one(t, testnet.MarkerIgnUser); !strings.HasPrefix(u, "core uid=1000 home=/home/core") {
				t.Errorf("user %q, want core with home /home/core", u)
			}
			if got := rep.one(t, testnet.MarkerIgnSSHKey); got != "core "+key {
				t.Errorf("authorized key %q, want core %s", got, key)
			}
			if got := rep.one(t, testnet.MarkerIgnUnit); got != "pixie-phone-home.service enabled" {
				t.Errorf("units enabled: %q, want pixie-phone-home.service", got)
			}
			if got := rep.one(t, testnet.MarkerIgnExec); got != "pixie-phone-home.service rc=0" {
				t.Errorf("phone-home unit: %q, want rc=0", got)
			}
			checkTimeline(t, p, macIgnE1000E, 0, []string{"dhcp", "script", "kernel", "initrd", "ignition", "booted"}, []string{"tftp"})
			es := p.Timeline(t, macIgnE1000E)
			// What Ignition 2.14 read was written down to its spec (the
			// profile's Butane fcos 1.5.0 translates to 3.4.0).
			if body := p.Ignition(t, res); !strings.Contains(string(body), `"version":"3.3.0"`) {
				t.Errorf("pixie served, for --ignition-spec 3.3:\n%s", body)
			}
			if len(es) == 0 || es[0].Stage != "dhcp" || !strings.HasSuffix(es[0].Detail, "(iPXE)") {
				t.Errorf("the firmware's first DISCOVER was not iPXE's (the e1000e ROM): %v", es)
			}
			took(fmt.Sprintf("OVMF+e1000e (iPXE ROM), Ignition applied %s", phases(res, es)))
		})

		t.Run("refused-newer-spec", func(t *testing.T) {
			t.Parallel()
			p.MustCLI(t, "machines", "set", macIgnNewer, "--profile", "unlimited")
			res := p.bootWith(t, testnet.VMOptions{Firmware: testnet.BIOS, MAC: macIgnNewer,
				Timeout: 300 * time.Second, StopOn: ignitionStops()})
			t.Logf("BIOS boot to Ignition's refusal: %s", res)
			msg, ok := markerValue(res.Log, testnet.MarkerIgnitionFailed)
			if !ok {
				t.Fatalf("Ignition accepted a 3.4.0 config (or never ran): %s\n%s", res, tail(cleanConsole(res.Log), 60))
			}
			t.Logf("Ignition's message: %s", msg)
			if body := p.Ignition(t, res); !strings.Contains(string(body), `"version":"3.4.0"`) {
				t.Errorf("pixie served, with no spec limit:\n%s", body)
			}
			if !strings.Contains(msg, "unsupported config version") {
				t.Errorf("Ignition's message %q, want its unsupported config version", msg)
			}
			took(fmt.Sprintf("SeaBIOS+virtio, Ignition refused 3.4.0 %.1f s", res.Elapsed.Seconds()))
		})
	})
	t.Logf("real Ignition boot times (side by side): %s", strings.Join(timings, "; "))
}

// ignitionStops are the serial lines that end an Ignition initrd boot.
func ignitionStops() []string {
	return append(testnet.DefaultStopMarkers(), testnet.MarkerIgnitionApplied, testnet.MarkerIgnitionFailed)
}

// bootWith boots a VM with opts on a new tap (opts.Tap is set here).
func (p *pixieLAN) bootWith(t testing.TB, opts testnet.VMOptions) *testnet.VMResult {
	t.Helper()
	p.mu.Lock()
	p.taps++
	name := fmt.Sprintf("tap%d", p.taps)
	p.mu.Unlock()
	tap, err := p.LAN.AddTap(name)
	if err != nil {
		t.Fatal(err)
	}
	opts.Tap = tap
	ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout+60*time.Second)
	defer cancel()
	res, err := p.LAN.RunVM(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.lastVM = res
	p.mu.Unlock()
	return res
}

// ignReport is the report lines of an Ignition initrd boot.
type ignReport struct{ lines []string }

// ignitionApplied returns the report of a boot in which Ignition applied
// the config, and fails the test with Ignition's own message when it did
// not.
func ignitionApplied(t *testing.T, res *testnet.VMResult) ignReport {
	t.Helper()
	if msg, ok := markerValue(res.Log, testnet.MarkerIgnitionFailed); ok {
		t.Fatalf("Ignition refused what pixie served: %s", msg)
	}
	if _, ok := markerValue(res.Log, testnet.MarkerIgnitionApplied); !ok {
		t.Fatalf("Ignition did not finish: %s\nserial console (last 80 lines):\n%s\nQEMU: %s", res, tail(cleanConsole(res.Log), 80), res.Stderr)
	}
	var rep ignReport
	for _, l := range strings.Split(cleanConsole(res.Log), "\n") {
		if i := strings.Index(l, "PIXIE-E2E-"); i >= 0 {
			rep.lines = append(rep.lines, strings.TrimSpace(l[i:]))
		}
	}
	t.Logf("what Ignition wrote:\n  %s", strings.Join(rep.all("PIXIE-E2E-IGN-"), "\n  "))
	return rep
}

// all returns the lines starting with prefix (prefix included).
func (r ignReport) all(prefix string) []string {
	var out []string
	for _, l := range r.lines {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// one returns the value of the single line with marker.
func (r ignReport) one(t *testing.T, marker string) string {
	t.Helper()
	ls := r.all(marker)
	if len(ls) != 1 {
		t.Errorf("want one %s line, got %q", marker, ls)
		return ""
	}
	return strings.TrimPrefix(ls[0], marker)
}

// wantFile checks that Ignition wrote path with mode and contents.
func (r ignReport) wantFile(t *testing.T, path, mode, contents string) {
	t.Helper()
	want := fmt.Sprintf("%s%s mode=%s sha256=%s", testnet.MarkerIgnFile, path, strings.TrimPrefix(mode, "0"), sha256Hex([]byte(contents)))
	for _, l := range r.all(testnet.MarkerIgnFile + path + " ") {
		if l == want {
			return
		}
		t.Errorf("Ignition wrote %q, want %q (contents %q)", l, want, contents)
		return
	}
	t.Errorf("Ignition wrote no %s; files: %q", path, r.all(testnet.MarkerIgnFile))
}

// markerValue is the rest of the first complete console line with marker.
func markerValue(log, marker string) (string, bool) {
	for _, l := range strings.Split(cleanConsole(log), "\n") {
		if i := strings.Index(l, marker); i >= 0 {
			return strings.TrimSpace(l[i+len(marker):]), true
		}
	}
	return "", false
}

// testSSHKey is an OpenSSH ed25519 public key line in the wire format
// (the 32 key bytes are fixed, not a real key: nothing logs in with it).
func testSSHKey(comment string) string {
	var b []byte
	for _, f := range [][]byte{[]byte("ssh-ed25519"), []byte("pixie-e2e-ignition-test-key-0032")} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return "ssh-ed25519 " + base64.StdEncoding.EncodeToString(b) + " " + comment
}
