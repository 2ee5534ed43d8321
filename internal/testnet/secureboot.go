package testnet

import (
	"os"
	"path/filepath"
	"testing"
)

// MarkerSecureBoot is what Debian's kernel prints when it booted with
// Secure Boot on.
const MarkerSecureBoot = "Secure boot enabled"

// MarkerAccessDenied is what OVMF prints when it refuses to start an
// unsigned (or wrongly signed) boot program.
const MarkerAccessDenied = "Access Denied"

// NextServer is the router dnsmasq line that names ip as next-server
// (siaddr) in its DHCP answers, the "network boot server" setting of a
// home router: Debian's GRUB looks for its config only there.
func NextServer(ip string) string { return "dhcp-boot=,," + ip }

// OVMFSecureBoot returns OVMF's Secure Boot build (it needs SMM) and the
// variable-store template with Microsoft's keys enrolled and Secure Boot
// on, from Debian's ovmf.
func OVMFSecureBoot() (code, vars string, err error) {
	code, err = firstFile("OVMF Secure Boot code (Debian package ovmf)",
		"/usr/share/OVMF/OVMF_CODE_4M.secboot.fd")
	if err != nil {
		return "", "", err
	}
	vars, err = firstFile("OVMF variable store with Microsoft keys (Debian package ovmf)",
		filepath.Join(filepath.Dir(code), "OVMF_VARS_4M.ms.fd"))
	if err != nil {
		return "", "", err
	}
	return code, vars, nil
}

// secureBootArgs are QEMU's machine and firmware arguments for
// UEFISecureBoot: SMM on and the flash marked secure, so the guest cannot
// write the variable store behind the firmware's back and turn Secure Boot
// off.
func secureBootArgs(opts VMOptions, varsCopy string) ([]string, error) {
	code, _, err := OVMFSecureBoot()
	if err != nil {
		return nil, err
	}
	return []string{
		"-machine", "q35,smm=on",
		"-global", "driver=cfi.pflash01,property=secure,value=on",
		"-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" + qemuEscape(code),
		"-drive", "if=pflash,format=raw,unit=1,file=" + qemuEscape(varsCopy),
		"-device", "virtio-net-pci,netdev=n0,mac=" + opts.MAC + ",romfile=",
	}, nil
}

// LoaderCacheEnv names the directory holding Debian's signed shim and
// GRUB unpacked (assets/firmware/fetch-debian-loaders.sh --unpack DIR, run
// by .ci/run): the test machine is no EFI system, so the packages are not
// installed.
const LoaderCacheEnv = "PIXIE_LOADER_CACHE"

// DefaultLoaderCache is where .ci/run unpacks them when LoaderCacheEnv is
// unset.
const DefaultLoaderCache = "/var/cache/pixie-test/loaders"

// SecureBootLoaders returns Debian's signed shimx64.efi and GRUB network
// image for x86-64: from the installed packages if they are, else from
// the unpacked cache. It skips (or fails under RequireEnv) when neither
// has them.
func SecureBootLoaders(t testing.TB) (shim, grub string) {
	t.Helper()
	cache := os.Getenv(LoaderCacheEnv)
	if cache == "" {
		cache = DefaultLoaderCache
	}
	const (
		shimRel = "usr/lib/shim/shimx64.efi.signed"
		grubRel = "usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed"
	)
	var err error
	shim, err = firstFile("Debian's signed shim (shim-signed)", "/"+shimRel, filepath.Join(cache, shimRel))
	if err == nil {
		grub, err = firstFile("Debian's signed GRUB (grub-efi-amd64-signed)", "/"+grubRel, filepath.Join(cache, grubRel))
	}
	if err != nil {
		skipOrFail(t, "%v; run `bash assets/firmware/fetch-debian-loaders.sh --unpack %s`", err, cache)
	}
	return shim, grub
}

// RequireSecureBootVM is RequireVM plus OVMF's Secure Boot build and the
// signed loaders.
func RequireSecureBootVM(t testing.TB) (shim, grub string) {
	t.Helper()
	RequireVM(t)
	if _, _, err := OVMFSecureBoot(); err != nil {
		skipOrFail(t, "%v", err)
	}
	return SecureBootLoaders(t)
}
