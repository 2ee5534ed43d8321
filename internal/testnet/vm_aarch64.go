// The aarch64 VM runner. Not vm_arm64.go: Go would build a file of that
// name only on arm64 hosts.

package testnet

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The arm64 firmware kinds: QEMU's aarch64 "virt" machine with AAVMF, the
// arm64 build of the same EDK2 firmware as OVMF (Debian qemu-efi-aarch64).
// Its native PXE client sends PXEClient:Arch:00011 and takes the proxy
// offer like OVMF's. AAVMF's code image is the same for both; Secure Boot
// is a matter of the variable store (AAVMF_VARS.ms.fd has Microsoft's keys
// enrolled and Secure Boot on).
const (
	ARM64           Firmware = "arm64-uefi"
	ARM64SecureBoot Firmware = "arm64-uefi-secureboot"
)

// ARM64VMTimeout bounds one arm64 boot. Under TCG on 2 cores an emulated
// aarch64 CPU is several times slower than the x86-64 guest (every
// instruction is translated, none runs natively), so it gets more than
// DefaultVMTimeout.
const ARM64VMTimeout = 480 * time.Second

// IsARM64 reports whether fw boots an aarch64 VM.
func (fw Firmware) IsARM64() bool { return fw == ARM64 || fw == ARM64SecureBoot }

// ARM64CacheEnv names the directory holding Debian's arm64 kernel, its
// modules and busybox-static:arm64, unpacked by
// packaging/dev/fetch-arm64-test-os.sh (run by .ci/run): installing
// foreign-architecture packages is not needed for files a VM boots.
const ARM64CacheEnv = "PIXIE_ARM64_CACHE"

// DefaultARM64Cache is where .ci/run unpacks them when ARM64CacheEnv is
// unset.
const DefaultARM64Cache = "/var/cache/pixie-test/arm64"

func arm64Cache() string {
	if d := os.Getenv(ARM64CacheEnv); d != "" {
		return d
	}
	return DefaultARM64Cache
}

// AAVMF returns AAVMF's code image and the variable-store template for fw
// (plain, or with Microsoft's keys and Secure Boot on).
func AAVMF(fw Firmware) (code, vars string, err error) {
	code, err = firstFile("AAVMF code (Debian package qemu-efi-aarch64)",
		"/usr/share/AAVMF/AAVMF_CODE.fd")
	if err != nil {
		return "", "", err
	}
	name := "AAVMF_VARS.fd"
	if fw == ARM64SecureBoot {
		name = "AAVMF_VARS.ms.fd"
	}
	vars, err = firstFile("AAVMF variable store (Debian package qemu-efi-aarch64)",
		filepath.Join(filepath.Dir(code), name))
	if err != nil {
		return "", "", err
	}
	return code, vars, nil
}

// FindKernelARM64 returns Debian's arm64 kernel from the arm64 cache, with
// the cache's arm64 busybox for its initrd (WriteInitrd uses it).
func FindKernelARM64() (Kernel, error) {
	root := arm64Cache()
	k, err := findKernelIn(root)
	if err != nil {
		return Kernel{}, fmt.Errorf("%w: run `bash packaging/dev/fetch-arm64-test-os.sh %s`", err, root)
	}
	bb := filepath.Join(root, "bin", "busybox")
	if err := checkStaticELF(bb, elf.EM_AARCH64); err != nil {
		return Kernel{}, fmt.Errorf("arm64 busybox: %w: run `bash packaging/dev/fetch-arm64-test-os.sh %s`", err, root)
	}
	k.Busybox = bb
	return k, nil
}

// checkStaticELF fails unless path is a statically linked ELF program for
// machine: the initrd has no libc, and a busybox for the wrong CPU would
// only show as a kernel panic ("No working init found").
func checkStaticELF(path string, machine elf.Machine) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if f.Machine != machine {
		return fmt.Errorf("%s is for %v, not %v", path, f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked", path)
		}
	}
	return nil
}

// arm64Args are QEMU's machine and firmware arguments for the arm64
// firmware kinds. cortex-a57 rather than "max": TCG emulates max's pointer
// authentication in software, which costs a large share of the boot time,
// and Debian's kernel needs nothing newer. The NIC's option ROM is off (an
// x86 iPXE ROM is of no use to AAVMF anyway), so AAVMF's own PXE runs.
func arm64Args(opts VMOptions, varsCopy string) ([]string, error) {
	code, _, err := AAVMF(opts.Firmware)
	if err != nil {
		return nil, err
	}
	return []string{
		"-machine", "virt",
		"-cpu", "cortex-a57",
		"-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" + qemuEscape(code),
		"-drive", "if=pflash,format=raw,unit=1,file=" + qemuEscape(varsCopy),
		"-device", "virtio-net-pci,netdev=n0,mac=" + opts.MAC + ",romfile=",
	}, nil
}

// ARM64Loaders returns Debian's signed shimaa64.efi and GRUB network image
// for arm64, from the installed packages or the loader cache, as
// SecureBootLoaders does for x86-64.
func ARM64Loaders(t testing.TB) (shim, grub string) {
	t.Helper()
	cache := os.Getenv(LoaderCacheEnv)
	if cache == "" {
		cache = DefaultLoaderCache
	}
	const (
		shimRel = "usr/lib/shim/shimaa64.efi.signed"
		grubRel = "usr/lib/grub/arm64-efi-signed/grubnetaa64.efi.signed"
	)
	var err error
	shim, err = firstFile("Debian's signed arm64 shim (shim-signed:arm64)", "/"+shimRel, filepath.Join(cache, shimRel))
	if err == nil {
		grub, err = firstFile("Debian's signed arm64 GRUB (grub-efi-arm64-signed)", "/"+grubRel, filepath.Join(cache, grubRel))
	}
	if err != nil {
		skipOrFail(t, "%v; run `dpkg --add-architecture arm64 && apt-get update && bash assets/firmware/fetch-debian-loaders.sh --unpack %s`", err, cache)
	}
	return shim, grub
}

// RequireARM64VM skips the test unless an arm64 boot can run: everything
// RequireVM checks, qemu-system-aarch64 (Debian qemu-system-arm), AAVMF,
// the arm64 kernel and busybox, and the signed arm64 loaders, which it
// returns.
func RequireARM64VM(t testing.TB) (shim, grub string) {
	t.Helper()
	RequireVM(t)
	RequireTools(t, "qemu-system-aarch64")
	if _, _, err := AAVMF(ARM64SecureBoot); err != nil {
		skipOrFail(t, "%v", err)
	}
	if _, err := FindKernelARM64(); err != nil {
		skipOrFail(t, "%v", err)
	}
	return ARM64Loaders(t)
}

// MarkerARM64SecureBoot is what Debian's arm64 kernel's EFI stub prints
// when the firmware booted it with Secure Boot on (the x86 kernel's
// MarkerSecureBoot line does not exist on arm64).
const MarkerARM64SecureBoot = "UEFI Secure Boot is enabled"
