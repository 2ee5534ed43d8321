package doctor

import (
	"strings"
	"testing"

	"github.com/pixie-boot/pixie/daemon/api"
)

// The firmware report of a Debian host with iPXE installed and Debian's
// signed loaders for both architectures in the data directory.
func debianLoaders() []api.Firmware {
	return []api.Firmware{
		{Arch: "bios", Files: []api.FirmwareFile{{Name: "undionly.kpxe", Source: "/usr/lib/ipxe", Kind: "ipxe"}}},
		{Arch: "efi-x64", Files: []api.FirmwareFile{
			{Name: "ipxe.efi", Source: "/usr/lib/ipxe", Kind: "ipxe"},
			{Name: "snponly.efi", Source: "/usr/lib/ipxe", Kind: "ipxe"},
			{Name: "shimx64.efi", Source: "data-dir", Kind: "shim", Vendor: "Debian Secure Boot CA"},
			{Name: "grubx64.efi", Source: "data-dir", Kind: "grub"},
		}},
		{Arch: "efi-arm64", Files: []api.FirmwareFile{
			{Name: "shimaa64.efi", Source: "data-dir", Kind: "shim", Vendor: "Debian Secure Boot CA"},
			{Name: "grubaa64.efi", Source: "data-dir", Kind: "grub"},
		}, Missing: []string{"ipxe-arm64.efi"}},
	}
}

func TestUEFILoaderLines(t *testing.T) {
	full := debianLoaders()
	onlyIPXE := []api.Firmware{full[0], {Arch: "efi-x64", Files: full[1].Files[:2], Missing: []string{"shimx64.efi", "grubx64.efi"}},
		{Arch: "efi-arm64", Missing: []string{"ipxe-arm64.efi", "shimaa64.efi", "grubaa64.efi"}}}
	halfShim := []api.Firmware{full[0], {Arch: "efi-x64", Files: full[1].Files[:3], Missing: []string{"grubx64.efi"}}, full[2]}
	grubOnly := []api.Firmware{full[0], {Arch: "efi-x64", Files: full[1].Files[2:], Missing: []string{"ipxe.efi", "snponly.efi"}}, full[2]}
	for _, tc := range []struct {
		name   string
		fw     []api.Firmware
		onGRUB []string
		check  string
		status Status
		has    []string
	}{
		{"x64 both", full, nil, "firmware efi-x64", OK, []string{
			"ipxe.efi (/usr/lib/ipxe), snponly.efi (/usr/lib/ipxe)",
			"shim+GRUB: shimx64.efi (data-dir; boots what Debian Secure Boot CA signed) + grubx64.efi (data-dir)"}},
		{"arm64 shim only, no iPXE", full, nil, "firmware efi-arm64", OK, []string{
			"no iPXE (looked for ipxe-arm64.efi): every efi-arm64 machine boots through shim+GRUB",
			"shimaa64.efi (data-dir; boots what Debian Secure Boot CA signed) + grubaa64.efi (data-dir)"}},
		{"x64 no pair, nobody on GRUB", onlyIPXE, nil, "firmware efi-x64", OK, []string{
			"no shim+GRUB (not found: shimx64.efi, grubx64.efi): a machine with Secure Boot on cannot boot"}},
		{"x64 no pair, a machine on GRUB", onlyIPXE, []string{"52:54:00:00:00:01"}, "firmware efi-x64", Warn, []string{
			"no shim+GRUB", "machines on GRUB, of whatever architecture: 52:54:00:00:00:01"}},
		{"arm64 nothing", onlyIPXE, nil, "firmware efi-arm64", OK, []string{
			"nothing to serve", "needed only for efi-arm64 machines", "shim-signed:arm64"}},
		{"arm64 nothing, a machine on GRUB", onlyIPXE, []string{"52:54:00:00:00:01"}, "firmware efi-arm64", Warn, []string{
			"nothing to serve", "efi-arm64 machines cannot PXE-boot"}},
		{"x64 shim without GRUB", halfShim, nil, "firmware efi-x64", Warn, []string{
			"shimx64.efi (data-dir) without grubx64.efi: the chain stops there"}},
		{"x64 pair without iPXE", grubOnly, nil, "firmware efi-x64", OK, []string{
			"no iPXE (looked for ipxe.efi, snponly.efi): every efi-x64 machine boots through shim+GRUB"}},
	} {
		c := verdict(t, Report{Checks: checkFirmware(tc.fw, "linux", tc.onGRUB)}, tc.check)
		if c.Status != tc.status {
			t.Errorf("%s: status %s, want %s: %+v", tc.name, c.Status, tc.status, c)
		}
		for _, h := range tc.has {
			if !strings.Contains(c.Message, h) {
				t.Errorf("%s: message %q lacks %q", tc.name, c.Message, h)
			}
		}
		if c.Status != OK && c.Fix == "" {
			t.Errorf("%s: %s without a fix", tc.name, c.Status)
		}
	}
}

func TestCheckGRUBProfiles(t *testing.T) {
	profiles := []api.Profile{{Name: "first-time", OS: "generic"}, {Name: "fcos", OS: "fedora-coreos"}, {Name: "flatcar", OS: "flatcar"}, {Name: "idle", OS: "fedora-coreos"}}
	machines := []api.Machine{
		{MAC: "52:54:00:00:00:01", Profile: "fcos", Loader: "grub"},
		{MAC: "52:54:00:00:00:02", LoaderStep: "grub"}, // the default profile, moved by the ladder
		{MAC: "52:54:00:00:00:03", Profile: "flatcar", Loader: "auto", LoaderStep: "ipxe"},
		{MAC: "52:54:00:00:00:04", Profile: "idle", Loader: "ipxe", LoaderStep: "grub"}, // a pin wins over the step
	}
	f := Facts{Firmware: debianLoaders(), Profiles: profiles, Machines: machines, DefaultProfile: "first-time"}
	r := Report{Checks: checkGRUBProfiles(f)}
	if len(r.Checks) != 2 {
		t.Fatalf("want checks for first-time and fcos only: %+v", r.Checks)
	}
	c := verdict(t, r, "secure boot for profile fcos")
	if c.Status != Warn || !strings.Contains(c.Message, "booted through GRUB by 52:54:00:00:00:01") ||
		!strings.Contains(c.Message, "efi-x64's shimx64.efi trusts Debian Secure Boot CA") ||
		!strings.Contains(c.Message, "Fedora CoreOS kernels are signed by Fedora") ||
		!strings.Contains(c.Fix, "shim-x64") || !strings.Contains(c.Fix, "shimx64.efi, grubx64.efi, shimaa64.efi, grubaa64.efi") {
		t.Errorf("fcos with Debian's shim: %+v", c)
	}
	c = verdict(t, r, "secure boot for profile first-time")
	if c.Status != OK || !strings.Contains(c.Message, "52:54:00:00:00:02") || !strings.Contains(c.Message, "signed by the CA each shim names") {
		t.Errorf("generic profile: %+v", c)
	}

	// Fedora's shim for Fedora CoreOS: nothing to warn about.
	fedora := debianLoaders()
	for _, a := range fedora {
		for i := range a.Files {
			if a.Files[i].Kind == "shim" {
				a.Files[i].Vendor = "Fedora Secure Boot CA"
			}
		}
	}
	f.Firmware = fedora
	if c := verdict(t, Report{Checks: checkGRUBProfiles(f)}, "secure boot for profile fcos"); c.Status != OK {
		t.Errorf("fcos with Fedora's shim: %+v", c)
	}

	// No pair at all: the machines on GRUB get nothing.
	f.Firmware = []api.Firmware{{Arch: "efi-x64", Files: []api.FirmwareFile{{Name: "ipxe.efi", Source: "/usr/lib/ipxe", Kind: "ipxe"}}}}
	if c := verdict(t, Report{Checks: checkGRUBProfiles(f)}, "secure boot for profile fcos"); c.Status != Fail || c.Fix == "" {
		t.Errorf("no shim+GRUB pair: %+v", c)
	}

	// Nobody on GRUB: no lines.
	f.Machines = machines[2:]
	if cs := checkGRUBProfiles(f); len(cs) != 0 {
		t.Errorf("nobody on GRUB: %+v", cs)
	}

	// The server default: every unknown machine boots the default
	// profile through GRUB.
	f.Daemon = &api.Status{DefaultLoader: "grub"}
	f.Firmware = debianLoaders()
	c = verdict(t, Report{Checks: checkGRUBProfiles(f)}, "secure boot for profile first-time")
	if !strings.Contains(c.Message, "(unknown machines)") {
		t.Errorf("serve --loader grub: %+v", c)
	}
	// ... and the machines on auto, including the one the ladder left on ipxe.
	if c := verdict(t, Report{Checks: checkGRUBProfiles(f)}, "secure boot for profile flatcar"); !strings.Contains(c.Message, "52:54:00:00:00:03") {
		t.Errorf("serve --loader grub, flatcar machine on auto: %+v", c)
	}
}
