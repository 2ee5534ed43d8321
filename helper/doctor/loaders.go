package doctor

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pixie-boot/pixie/daemon/api"
)

// The UEFI architectures pixie's loader ladder serves (snponly -> ipxe ->
// shim+GRUB), and the names of their shim+GRUB pair.
func ladderArch(arch string) (shim, grub string, ok bool) {
	switch arch {
	case "efi-x64":
		return "shimx64.efi", "grubx64.efi", true
	case "efi-arm64":
		return "shimaa64.efi", "grubaa64.efi", true
	}
	return "", "", false
}

// grubSet is one architecture's shim+GRUB pair as the firmware report
// lists it; a zero name means that half is missing.
type grubSet struct {
	arch       string
	shim, grub api.FirmwareFile
}

func (s grubSet) complete() bool { return s.shim.Name != "" && s.grub.Name != "" }

// describe is e.g. "shimx64.efi (data-dir; boots what Debian Secure Boot
// CA signed) + grubx64.efi (/usr/lib)".
func (s grubSet) describe() string {
	shim := s.shim.Name + " (" + s.shim.Source
	if s.shim.Vendor != "" {
		shim += "; boots what " + s.shim.Vendor + " signed"
	}
	return shim + ") + " + s.grub.Name + " (" + s.grub.Source + ")"
}

// grubSets returns each ladder architecture's pair, in report order.
func grubSets(fw []api.Firmware) []grubSet {
	var out []grubSet
	for _, a := range fw {
		shimName, grubName, ok := ladderArch(a.Arch)
		if !ok {
			continue
		}
		s := grubSet{arch: a.Arch}
		for _, f := range a.Files {
			switch f.Name {
			case shimName:
				s.shim = f
			case grubName:
				s.grub = f
			}
		}
		out = append(out, s)
	}
	return out
}

// uefiLoaderCheck is the firmware line of a ladder architecture: which
// iPXE builds and which shim+GRUB pair exist and where from. grubMACs are
// the machines that boot through GRUB: a missing or half pair matters
// only when there are some (or always on arm64, which has no iPXE from
// Debian).
func uefiLoaderCheck(a api.Firmware, set grubSet, grubMACs []string, fix string) Check {
	c := Check{Name: "firmware " + a.Arch, Status: OK}
	shimName, grubName, _ := ladderArch(a.Arch)
	var ipxe, ipxeMissing []string
	for _, f := range a.Files {
		if f.Kind == "" || f.Kind == "ipxe" {
			ipxe = append(ipxe, f.Name+" ("+f.Source+")")
		}
	}
	for _, m := range a.Missing {
		if m != shimName && m != grubName {
			ipxeMissing = append(ipxeMissing, m)
		}
	}
	var parts []string
	switch {
	case len(ipxe) > 0:
		p := strings.Join(ipxe, ", ")
		if len(ipxeMissing) > 0 {
			p += "; not found: " + strings.Join(ipxeMissing, ", ")
		}
		parts = append(parts, p)
	case set.complete():
		parts = append(parts, fmt.Sprintf("no iPXE (looked for %s): every %s machine boots through shim+GRUB", strings.Join(ipxeMissing, ", "), a.Arch))
	}
	needGRUB := len(grubMACs) > 0
	switch {
	case set.complete():
		parts = append(parts, "shim+GRUB: "+set.describe())
	case set.shim.Name != "" || set.grub.Name != "":
		have, lack := set.shim, grubName
		if have.Name == "" {
			have, lack = set.grub, shimName
		}
		parts = append(parts, fmt.Sprintf("shim+GRUB: %s (%s) without %s: the chain stops there", have.Name, have.Source, lack))
		c.Status, c.Fix = Warn, loaderFix(a.Arch)
	case len(ipxe) == 0:
		c.Message = fmt.Sprintf("nothing to serve (looked for %s)", strings.Join(a.Missing, ", "))
		if a.Arch == "efi-x64" || needGRUB {
			c.Status, c.Fix = Warn, fix+"; for Secure Boot: "+loaderFix(a.Arch)
			c.Message += ": " + a.Arch + " machines cannot PXE-boot"
		} else {
			c.Message += "; needed only for " + a.Arch + " machines (" + loaderFix(a.Arch) + ")"
		}
		return c
	default:
		parts = append(parts, fmt.Sprintf("no shim+GRUB (not found: %s, %s): a machine with Secure Boot on cannot boot", shimName, grubName))
		if needGRUB {
			c.Status, c.Fix = Warn, loaderFix(a.Arch)
		}
	}
	c.Message = strings.Join(parts, "; ")
	if needGRUB && c.Status != OK {
		c.Message += fmt.Sprintf(" (machines on GRUB, of whatever architecture: %s)", strings.Join(grubMACs, ", "))
	}
	return c
}

// loaderFix says where a shim+GRUB pair comes from.
func loaderFix(arch string) string {
	shim, grub, _ := ladderArch(arch)
	pkgs := "shim-signed grub-efi-amd64-signed"
	if arch == "efi-arm64" {
		pkgs = "shim-signed:arm64 grub-efi-arm64-signed:arm64"
	}
	return fmt.Sprintf("put %s and %s (the OS's signed shim and network GRUB) into the data directory's firmware/, use a build with them embedded (make embedded), or on Debian/Ubuntu unpack %s into /", shim, grub, pkgs)
}

// grubMachines returns, per profile, the machines that boot it through
// GRUB: pinned to grub, or on auto and either moved there by the ladder
// or defaulted there by `pixie serve --loader grub`. With that server
// default, the default profile is booted through GRUB by every machine
// pixie does not know, named "(unknown machines)".
func grubMachines(f Facts) map[string][]string {
	def := ""
	if f.Daemon != nil {
		def = f.Daemon.DefaultLoader
	}
	out := map[string][]string{}
	for _, m := range f.Machines {
		auto := m.Loader == "" || m.Loader == "auto"
		if m.Loader == "grub" || auto && (m.LoaderStep == "grub" || def == "grub") {
			p := m.Profile
			if p == "" {
				p = f.DefaultProfile
			}
			out[p] = append(out[p], m.MAC)
		}
	}
	if def == "grub" && f.DefaultProfile != "" {
		out[f.DefaultProfile] = append(out[f.DefaultProfile], "(unknown machines)")
	}
	return out
}

// osVendors names, for the OS kinds whose signer is known, a word the
// vendor certificate of a shim that boots its kernels carries: a shim
// starts only kernels its built-in CA signed, so Debian's shim cannot boot
// Fedora CoreOS under Secure Boot. Kinds not listed are not checked.
func osVendors(os string) (vendor, name, packages string, ok bool) {
	switch os {
	case "fedora-coreos":
		return "Fedora", "Fedora CoreOS", "shim-x64 and grub2-efi-x64 (aarch64: shim-aa64, grub2-efi-aa64)", true
	}
	return "", "", "", false
}

// checkGRUBProfiles says, for each profile some machine boots through
// GRUB, whether a shim+GRUB pair exists and whether its shim trusts the
// profile's OS.
func checkGRUBProfiles(f Facts) []Check {
	users := grubMachines(f)
	if len(users) == 0 {
		return nil
	}
	var complete []grubSet
	for _, s := range grubSets(f.Firmware) {
		if s.complete() {
			complete = append(complete, s)
		}
	}
	var out []Check
	for _, p := range f.Profiles {
		macs := users[p.Name]
		if len(macs) == 0 {
			continue
		}
		c := Check{Name: "secure boot for profile " + p.Name, Status: OK}
		who := "booted through GRUB by " + strings.Join(macs, ", ")
		if len(complete) == 0 {
			c.Status = Fail
			c.Message = who + ", but pixie has no shim+GRUB pair for any UEFI architecture: those machines get nothing"
			c.Fix = loaderFix("efi-x64")
			out = append(out, c)
			continue
		}
		var sets []string
		for _, s := range complete {
			sets = append(sets, s.arch+" "+s.describe())
		}
		vendor, osName, pkgs, known := osVendors(p.OS)
		var wrong []string
		if known {
			for _, s := range complete {
				if s.shim.Vendor != "" && !strings.Contains(s.shim.Vendor, vendor) {
					wrong = append(wrong, fmt.Sprintf("%s's %s trusts %s", s.arch, s.shim.Name, s.shim.Vendor))
				}
			}
		}
		switch {
		case len(wrong) > 0:
			c.Status = Warn
			c.Message = fmt.Sprintf("%s; %s, but %s kernels are signed by %s: with Secure Boot on, shim refuses them", who, strings.Join(wrong, ", "), osName, vendor)
			c.Fix = fmt.Sprintf("put %s's own shim and GRUB (RPMs %s) into the data directory's firmware/ as %s", vendor, pkgs, strings.Join(slices.Compact(loaderNames(complete)), ", "))
		case known:
			c.Message = who + " with " + strings.Join(sets, "; ")
		default:
			c.Message = who + " with " + strings.Join(sets, "; ") + ": its kernel must be signed by the CA each shim names"
		}
		out = append(out, c)
	}
	return out
}

func loaderNames(sets []grubSet) []string {
	var out []string
	for _, s := range sets {
		out = append(out, s.shim.Name, s.grub.Name)
	}
	return out
}
