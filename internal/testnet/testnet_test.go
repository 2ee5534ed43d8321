package testnet

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestVersionLess(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"6.1.0-9-amd64", "6.1.0-10-amd64", true},
		{"6.1.0-10-amd64", "6.1.0-9-amd64", false},
		{"5.10.0-28-amd64", "6.1.0-1-amd64", true},
		{"6.1.0-56-amd64", "6.1.0-56-amd64", false},
		{"6.1.0-56-amd64", "6.1.0-56-cloud-amd64", true},
	}
	for _, tt := range tests {
		if got := versionLess(tt.a, tt.b); got != tt.want {
			t.Errorf("versionLess(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestStalePid(t *testing.T) {
	tests := []struct {
		name string
		pid  int
		ok   bool
	}{
		{"pxt1234-abcdef-lan", 1234, true},
		{"pxt1234-router", 1234, true},
		{"pxt-lan", 0, false},
		{"pxtx12-lan", 0, false},
		{"other1234-lan", 0, false},
		{"pxt1234", 0, false},
	}
	for _, tt := range tests {
		pid, ok := stalePid("pxt", tt.name)
		if pid != tt.pid || ok != tt.ok {
			t.Errorf("stalePid(%q) = %d, %v; want %d, %v", tt.name, pid, ok, tt.pid, tt.ok)
		}
	}
}

func TestMarkers(t *testing.T) {
	log := "noise\r\nPIXIE-E2E-CMDLINE=console=ttyS0 x=y\r\n[  1.0] PIXIE-E2E-IGNITION-SHA256=abc123\r\nPIXIE-E2E-FETCH-FAI"
	r := &VMResult{Log: log}
	if sha, ok := r.IgnitionSHA256(); !ok || sha != "abc123" {
		t.Errorf("IgnitionSHA256() = %q, %v", sha, ok)
	}
	if c, ok := r.KernelCmdline(); !ok || c != "console=ttyS0 x=y" {
		t.Errorf("KernelCmdline() = %q, %v", c, ok)
	}
	if m := completeLineWith(log, []string{MarkerFetchFailed}); m != "" {
		t.Errorf("unfinished line matched %q", m)
	}
	if _, ok := (&VMResult{Log: "PIXIE-E2E-IGNITION-SHA256=ab"}).IgnitionSHA256(); ok {
		t.Error("unfinished marker line accepted")
	}
}

func TestQEMUArgs(t *testing.T) {
	if _, _, err := OVMF(); err != nil {
		t.Skip(err)
	}
	if _, err := IPXEOptionROM(); err != nil {
		t.Skip(err)
	}
	for _, fw := range []Firmware{UEFI, BIOS} {
		args, err := QEMUArgs(VMOptions{Firmware: fw, MAC: "52:54:00:77:00:01", Tap: "tap0"}, "/tmp/s.log", "/tmp/a,b/vars.fd")
		if err != nil {
			t.Fatal(err)
		}
		line := strings.Join(args, " ")
		for _, want := range []string{"-accel tcg", "-no-reboot", "-serial file:/tmp/s.log", "ifname=tap0,script=no", "mac=52:54:00:77:00:01"} {
			if !strings.Contains(line, want) {
				t.Errorf("%s: %q lacks %q", fw, line, want)
			}
		}
		if fw == UEFI && (!strings.Contains(line+" ", "romfile= ") || !strings.Contains(line, "file=/tmp/a,,b/vars.fd")) {
			t.Errorf("uefi: %q: want romfile= disabled and escaped vars path", line)
		}
		if fw == BIOS && (strings.Contains(line, "romfile") || !strings.Contains(line, "-L /")) {
			t.Errorf("bios: %q: want the default iPXE ROM found through -L", line)
		}
	}
}

// TestInitrd builds the initrd and lists it with cpio(1) to check the
// archive is well formed and holds what /init needs.
func TestInitrd(t *testing.T) {
	if _, err := FindKernel(); err != nil {
		t.Skip(err)
	}
	if _, err := Busybox(); err != nil {
		t.Skip(err)
	}
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skip("cpio not installed")
	}
	path := BuildInitrd(t, t.TempDir())
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("cpio", "-itv", "--quiet")
	cmd.Stdin = bytes.NewReader(raw)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cpio -t: %v\n%s", err, out)
	}
	list := string(out)
	for _, want := range []string{" init", " bin/busybox", "bin/sh -> busybox", " dev/console", "lib/modules/virtio_net.ko", "lib/modules/failover.ko", "lib/modules/virtio_pci.ko"} {
		if !strings.Contains(list, want) {
			t.Errorf("initrd lacks %q:\n%s", want, list)
		}
	}
	// Dependencies before dependants, or insmod fails.
	k, _ := FindKernel()
	mods, err := k.ModulesFor(InitrdModules()...)
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, m := range mods {
		pos[m.Name] = i
	}
	if pos["failover"] > pos["net_failover"] || pos["net_failover"] > pos["virtio_net"] {
		t.Errorf("bad module order %v", mods)
	}
	t.Logf("initrd %s, modules %v", filepath.Base(path), mods)
}

// TestLANRouterDHCP builds a LAN, checks server and router reach each other
// and that a DHCP client in a fourth namespace gets a lease from the router.
func TestLANRouterDHCP(t *testing.T) {
	RequireRoot(t)
	RequireTools(t, "dnsmasq")
	bb, err := Busybox()
	if err != nil {
		t.Skip(err)
	}
	lan := NewLAN(t, Options{})
	if out, err := lan.Exec(lan.ServerNS, bb, "ping", "-c", "1", "-W", "5", RouterIP); err != nil {
		t.Fatalf("server cannot reach router: %v\n%s", err, out)
	}
	if _, err := lan.StartRouterDHCP(); err != nil {
		t.Fatal(err)
	}
	client, err := lan.AddClient("client", "")
	if err != nil {
		t.Fatal(err)
	}
	// No -s script: only whether a lease is offered matters here.
	out, err := lan.Exec(client, bb, "udhcpc", "-i", Iface, "-f", "-q", "-n", "-t", "5", "-T", "1", "-s", "/bin/true")
	if err != nil {
		t.Fatalf("udhcpc: %v\n%s", err, out)
	}
	if !strings.Contains(out, "lease of 10.77.0.1") {
		t.Errorf("no lease from the router's pool:\n%s", out)
	}
	if cmd := lan.Command("not-ours", "true"); cmd.Run() == nil {
		t.Error("Command ran in a namespace the LAN does not own")
	}
}
