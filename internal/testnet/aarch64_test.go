package testnet

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestFindKernelIn picks the newest kernel of a root that has its modules,
// and says where it looked when there is none.
func TestFindKernelIn(t *testing.T) {
	root := t.TempDir()
	for _, v := range []string{"6.1.0-9-arm64", "6.1.0-10-arm64", "6.1.0-11-arm64"} {
		if err := os.MkdirAll(filepath.Join(root, "boot"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "boot", "vmlinuz-"+v), []byte("k"), 0o644); err != nil {
			t.Fatal(err)
		}
		if v == "6.1.0-11-arm64" {
			continue // no modules: not bootable with the test initrd
		}
		dir := filepath.Join(root, "lib", "modules", v)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "modules.dep"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	k, err := findKernelIn(root)
	if err != nil {
		t.Fatal(err)
	}
	if k.Version != "6.1.0-10-arm64" || k.Path != filepath.Join(root, "boot", "vmlinuz-6.1.0-10-arm64") ||
		k.ModulesDir != filepath.Join(root, "lib", "modules", "6.1.0-10-arm64") {
		t.Errorf("findKernelIn = %+v, want 6.1.0-10-arm64 under %s", k, root)
	}

	empty := t.TempDir()
	if _, err := findKernelIn(empty); err == nil || !strings.Contains(err.Error(), empty) {
		t.Errorf("findKernelIn(empty) error %v: want one naming %s", err, empty)
	}
}

// TestCheckStaticELF tells a busybox for the wrong CPU from the right one.
func TestCheckStaticELF(t *testing.T) {
	bb, err := Busybox()
	if err != nil {
		t.Skip(err)
	}
	if err := checkStaticELF(bb, elf.EM_X86_64); err != nil {
		t.Errorf("host busybox %s: %v", bb, err)
	}
	if err := checkStaticELF(bb, elf.EM_AARCH64); err == nil || !strings.Contains(err.Error(), "EM_X86_64") {
		t.Errorf("host busybox as arm64: error %v, want one saying it is for x86-64", err)
	}
	if err := checkStaticELF(filepath.Join(t.TempDir(), "none"), elf.EM_AARCH64); err == nil {
		t.Error("a missing file passed")
	}
}

func TestQEMUArgsARM64(t *testing.T) {
	code, _, err := AAVMF(ARM64SecureBoot)
	if err != nil {
		t.Skip(err)
	}
	for _, fw := range []Firmware{ARM64, ARM64SecureBoot} {
		args, err := QEMUArgs(VMOptions{Firmware: fw, MAC: "52:54:00:aa:64:01", Tap: "tap0"}, "/tmp/s.log", "/tmp/a,b/vars.fd")
		if err != nil {
			t.Fatal(err)
		}
		line := strings.Join(args, " ") + " "
		for _, want := range []string{"-accel tcg", "-no-reboot", "-machine virt ", "-cpu cortex-a57 ",
			"readonly=on,file=" + code + " ", "file=/tmp/a,,b/vars.fd ", "mac=52:54:00:aa:64:01,romfile= "} {
			if !strings.Contains(line, want) {
				t.Errorf("%s: %q lacks %q", fw, line, want)
			}
		}
		if strings.Contains(line, "q35") || strings.Contains(line, "smm") {
			t.Errorf("%s: x86 machine options in %q", fw, line)
		}
	}
	_, plain, _ := AAVMF(ARM64)
	_, ms, _ := AAVMF(ARM64SecureBoot)
	if filepath.Base(plain) != "AAVMF_VARS.fd" || filepath.Base(ms) != "AAVMF_VARS.ms.fd" {
		t.Errorf("variable stores %s and %s: want AAVMF_VARS.fd and, with Secure Boot, AAVMF_VARS.ms.fd", plain, ms)
	}
}

// TestInitrdARM64 builds the arm64 initrd and checks that it carries the
// arm64 busybox and the arm64 kernel's virtio-net modules.
func TestInitrdARM64(t *testing.T) {
	k, err := FindKernelARM64()
	if err != nil {
		t.Skip(err)
	}
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skip("cpio not installed")
	}
	path := filepath.Join(t.TempDir(), "initrd.img")
	if err := WriteInitrd(path, k); err != nil {
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
	list, err := cpioRun(raw, "-it")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"lib/modules/virtio_net.ko", "lib/modules/virtio_pci.ko", "lib/modules/failover.ko"} {
		if !strings.Contains(list, want) {
			t.Errorf("arm64 initrd lacks %s:\n%s", want, list)
		}
	}
	bb, err := cpioRun(raw, "-i", "--to-stdout", "bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.NewFile(strings.NewReader(bb))
	if err != nil {
		t.Fatalf("bin/busybox in the arm64 initrd: %v", err)
	}
	if ef.Machine != elf.EM_AARCH64 {
		t.Errorf("bin/busybox in the arm64 initrd is for %v", ef.Machine)
	}
	mod, err := cpioRun(raw, "-i", "--to-stdout", "lib/modules/virtio_net.ko")
	if err != nil {
		t.Fatal(err)
	}
	if mf, err := elf.NewFile(strings.NewReader(mod)); err != nil || mf.Machine != elf.EM_AARCH64 {
		t.Errorf("virtio_net.ko in the arm64 initrd: %v, not an arm64 module", err)
	}
}

func cpioRun(archive []byte, args ...string) (string, error) {
	cmd := exec.Command("cpio", append(args, "--quiet")...)
	cmd.Stdin = bytes.NewReader(archive)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("cpio %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}
