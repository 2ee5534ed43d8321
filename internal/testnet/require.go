package testnet

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RequireEnv names the environment variable that turns every "skip" of
// this package into a test failure. CI sets it so that a missing package or a
// lost root privilege cannot silently turn the end-to-end tests into no-ops.
const RequireEnv = "PIXIE_E2E_REQUIRE"

// skipOrFail skips the test with a message saying what is missing, or fails
// it when RequireEnv=1.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := "testnet: " + fmt.Sprintf(format, args...)
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s (%s=1, so this is a failure, not a skip)", msg, RequireEnv)
	}
	t.Skip(msg)
}

// RequireRoot skips the test unless it runs as root with `ip` available:
// creating namespaces, veths, bridges and taps needs CAP_NET_ADMIN and
// CAP_SYS_ADMIN, which in practice means root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root to create network namespaces (euid %d)", os.Geteuid())
	}
	RequireTools(t, "ip")
}

// RequireTools skips the test unless every named program is on PATH.
func RequireTools(t testing.TB, names ...string) {
	t.Helper()
	var missing []string
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		skipOrFail(t, "missing programs %v (Debian: iproute2 dnsmasq qemu-system-x86 busybox-static)", missing)
	}
}

// RequireVM skips the test unless everything a VM boot on the LAN needs is
// installed: root, ip, dnsmasq (StartRouterDHCP), QEMU, /dev/net/tun, OVMF,
// the iPXE option ROM, a Debian kernel with its modules and a static busybox
// (BuildInitrd).
func RequireVM(t testing.TB) {
	t.Helper()
	RequireRoot(t)
	RequireTools(t, "qemu-system-x86_64", "dnsmasq")
	checks := []func() error{
		func() error { _, err := os.Stat("/dev/net/tun"); return err },
		func() error { _, _, err := OVMF(); return err },
		func() error { _, err := IPXEOptionROM(); return err },
		func() error { _, err := FindKernel(); return err },
		func() error { _, err := Busybox(); return err },
	}
	for _, check := range checks {
		if err := check(); err != nil {
			skipOrFail(t, "%v", err)
		}
	}
}

// firstFile returns the first of paths that is a regular file.
func firstFile(what string, paths ...string) (string, error) {
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found (looked at %v)", what, paths)
}

// OVMF returns the 4 MiB OVMF code image (used read-only) and the matching
// variable-store template (which must be copied before a VM may write it).
// The non-secure-boot build is used: Debian's iPXE is not signed for the
// Microsoft keys.
func OVMF() (code, vars string, err error) {
	code, err = firstFile("OVMF code (Debian package ovmf)",
		"/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/edk2/ovmf/OVMF_CODE_4M.fd")
	if err != nil {
		return "", "", err
	}
	vars, err = firstFile("OVMF variable store (Debian package ovmf)",
		filepath.Join(filepath.Dir(code), "OVMF_VARS_4M.fd"))
	if err != nil {
		return "", "", err
	}
	return code, vars, nil
}

// IPXEOptionROM returns the iPXE option ROM QEMU uses for virtio-net-pci
// (efi-virtio.rom, a legacy+EFI image from Debian's ipxe-qemu). RunVM puts
// its directory on QEMU's firmware search path (-L) rather than naming the
// file with romfile=: QEMU rewrites the PCI ids inside its *default* ROM to
// match the device, but not inside a ROM named explicitly, and Debian's ROM
// says 1af4:1041 (modern virtio) while virtio-net-pci on the pc machine is
// 1af4:1000, so SeaBIOS would skip it silently ("No bootable device").
func IPXEOptionROM() (string, error) {
	return firstFile("iPXE option ROM efi-virtio.rom (Debian package ipxe-qemu)",
		"/usr/lib/ipxe/qemu/efi-virtio.rom", "/usr/share/qemu/efi-virtio.rom")
}

// IPXEFirmware returns the path of one of the iPXE binaries a PXE server
// hands out over TFTP ("ipxe.efi", "undionly.kpxe", "snponly.efi") from
// Debian's ipxe package.
func IPXEFirmware(name string) (string, error) {
	return firstFile("iPXE firmware "+name+" (Debian package ipxe)",
		filepath.Join("/usr/lib/ipxe", name), filepath.Join("/usr/share/ipxe", name))
}

// Busybox returns a statically linked busybox (Debian busybox-static). The
// test initrd has no libc, so a dynamically linked one would not run there.
func Busybox() (string, error) {
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox", "/usr/lib/busybox/busybox-static"} {
		static, err := isStatic(p)
		if err == nil && static {
			return p, nil
		}
	}
	return "", errors.New("no statically linked busybox found (Debian package busybox-static)")
}

// isStatic reports whether the ELF file at path has no program interpreter.
func isStatic(path string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}
