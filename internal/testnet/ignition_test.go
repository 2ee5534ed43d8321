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

func TestQEMUArgsNICAndHTTPBoot(t *testing.T) {
	if _, _, err := OVMF(); err != nil {
		t.Skip(err)
	}
	if _, err := IPXEOptionROM(); err != nil {
		t.Skip(err)
	}
	for _, tc := range []struct {
		name      string
		opts      VMOptions
		want, not []string
	}{
		{"uefi http boot", VMOptions{Firmware: UEFIHTTP},
			[]string{"virtio-net-pci,netdev=n0,mac=52:54:00:77:00:01,romfile=", "name=opt/org.tianocore/IPv4PXESupport,string=n", "name=opt/org.tianocore/IPv6PXESupport,string=n"}, nil},
		{"uefi pxe keeps pxe on", VMOptions{Firmware: UEFI},
			[]string{"romfile="}, []string{"IPv4PXESupport"}},
		{"uefi e1000e keeps its iPXE ROM", VMOptions{Firmware: UEFI, NIC: E1000E},
			[]string{"-device e1000e,netdev=n0,mac=52:54:00:77:00:01", "-L /"}, []string{"romfile", "virtio-net"}},
	} {
		tc.opts.MAC, tc.opts.Tap = "52:54:00:77:00:01", "tap0"
		args, err := QEMUArgs(tc.opts, "/tmp/s.log", "/tmp/vars.fd")
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		line := strings.Join(args, " ") + " "
		for _, w := range tc.want {
			if !strings.Contains(line, w) {
				t.Errorf("%s: %q lacks %q", tc.name, line, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(line, n) {
				t.Errorf("%s: %q has %q", tc.name, line, n)
			}
		}
	}
	if _, err := QEMUArgs(VMOptions{Firmware: UEFI, NIC: "ne2k", MAC: "m", Tap: "t"}, "s", "v"); err == nil {
		t.Error("an unknown NIC was accepted")
	}
}

// TestIgnitionInitrd builds the Ignition initrd and lists it: Ignition,
// the tools it runs with their libraries and the program interpreter, the
// e1000e module, and an /init the shell can parse.
func TestIgnitionInitrd(t *testing.T) {
	k, err := FindKernel()
	if err != nil {
		t.Skip(err)
	}
	if _, err := Busybox(); err != nil {
		t.Skip(err)
	}
	RequireIgnition(t)
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skip("cpio not installed")
	}
	path := filepath.Join(t.TempDir(), "initrd.img")
	if err := WriteIgnitionInitrd(path, k); err != nil {
		t.Fatal(err)
	}
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
	libs, err := sharedLibs("/usr/bin/curl")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{" init", " usr/bin/ignition", " usr/sbin/useradd", " usr/bin/curl", " bin/setfiles", "lib/modules/e1000e.ko", "lib/modules/virtio_net.ko", "bin/awk -> busybox"}
	for _, l := range libs {
		want = append(want, " "+strings.TrimPrefix(l, "/"))
	}
	for _, w := range want {
		if !strings.Contains(list, w) {
			t.Errorf("initrd lacks %q", w)
		}
	}
	if t.Failed() {
		t.Logf("initrd:\n%s", list)
	}
	for name, script := range map[string]string{"Ignition": ignitionInit, "plain": initScript} {
		sh := exec.Command("sh", "-n")
		sh.Stdin = bytes.NewReader(initFor(script, []string{"x"}))
		if out, err := sh.CombinedOutput(); err != nil {
			t.Errorf("the %s /init does not parse: %v\n%s", name, err, out)
		}
		if s := string(initFor(script, nil)); strings.Contains(s, "@NETUP@") || strings.Contains(s, "@MODULES@") {
			t.Errorf("the %s /init keeps a placeholder", name)
		}
	}
	fi, _ := os.Stat(path)
	t.Logf("Ignition initrd: %d bytes compressed, %d unpacked", fi.Size(), len(raw))
}
