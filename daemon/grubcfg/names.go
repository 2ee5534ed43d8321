package grubcfg

import (
	"strconv"
	"strings"

	"github.com/pixie-boot/pixie/daemon/hwaddr"
)

// What is one kind of name GRUB (or pixie's own GRUB config) asks for.
type What int

const (
	// NotGRUB: not a GRUB name; the caller serves it as before
	// (firmware).
	NotGRUB What = iota
	// IsConfig: the machine's GRUB config. Name.MAC is set when the
	// name carries it (Fedora's grub.cfg-01-<mac>).
	IsConfig
	// IsQuiet: a name GRUB probes for that pixie never has (module
	// lists, per-IP configs, fonts): answer "not found" without a
	// warning.
	IsQuiet
	// IsKernel and IsInitrd: a file pixie's GRUB config names, under
	// AssetDir; Name.MAC and, for an initrd, Name.Index are set.
	IsKernel
	IsInitrd
)

// AssetDir is the TFTP directory under which pixie's GRUB configs name a
// machine's kernel and initrds: AssetDir/<mac with dashes>/kernel and
// .../initrd/<n>. Profiles are resolved again when GRUB fetches them, so
// no asset path from a profile ever travels to the client and back.
const AssetDir = "pixie"

// Name is a parsed GRUB request.
type Name struct {
	What  What
	MAC   string // normalized, aa:bb:cc:dd:ee:ff; "" if the name has none
	Index int    // for Initrd
}

// configDirs are the directories GRUB looks for its config in:
// upstream's and Debian's prefix /grub, the TFTP root (Fedora's GRUB after
// a proxy offer), Fedora's EFI/fedora.
var configDirs = []string{"", "grub/", "EFI/fedora/", "EFI/BOOT/"}

// Parse says what a TFTP or HTTP name is. One leading "/" is ignored.
// It accepts only exact, known shapes: everything else is NotGRUB (and
// then refused or not found by the firmware lookup).
func Parse(name string) Name {
	n := strings.TrimPrefix(name, "/")
	if rest, ok := strings.CutPrefix(n, AssetDir+"/"); ok {
		return parseAsset(rest)
	}
	for _, d := range configDirs {
		base, ok := strings.CutPrefix(n, d)
		if !ok || strings.Contains(base, "/") {
			continue
		}
		if base == "grub.cfg" {
			return Name{What: IsConfig}
		}
		if m, ok := strings.CutPrefix(base, "grub.cfg-01-"); ok {
			if mac, ok := dashedMAC(m); ok {
				return Name{What: IsConfig, MAC: mac}
			}
			return Name{What: IsQuiet}
		}
		if h, ok := strings.CutPrefix(base, "grub.cfg-"); ok && h != "" && len(h) <= 8 && isHex(h) {
			return Name{What: IsQuiet} // per-IP configs: the per-MAC one came first
		}
	}
	// GRUB's own files under its prefix: module lists, modules, fonts,
	// locales. The network images carry what they need built in.
	if rest, ok := strings.CutPrefix(n, "grub/"); ok && rest != "" && !strings.Contains(rest, "..") {
		return Name{What: IsQuiet}
	}
	return Name{}
}

func parseAsset(rest string) Name {
	parts := strings.Split(rest, "/")
	if len(parts) < 2 {
		return Name{}
	}
	mac, ok := dashedMAC(parts[0])
	if !ok {
		return Name{}
	}
	switch {
	case len(parts) == 2 && parts[1] == "kernel":
		return Name{What: IsKernel, MAC: mac}
	case len(parts) == 3 && parts[1] == "initrd":
		i, err := strconv.Atoi(parts[2])
		if err != nil || i < 0 || i > 63 || strconv.Itoa(i) != parts[2] {
			return Name{}
		}
		return Name{What: IsInitrd, MAC: mac, Index: i}
	}
	return Name{}
}

// dashedMAC accepts exactly aa-bb-cc-dd-ee-ff (either case), the one
// spelling GRUB and pixie's paths use, and returns it normalized.
func dashedMAC(s string) (string, bool) {
	if len(s) != 17 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if i%3 == 2 {
			if s[i] != '-' {
				return "", false
			}
		} else if !isHex(s[i : i+1]) {
			return "", false
		}
	}
	mac, err := hwaddr.Parse(s)
	return mac, err == nil
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// dashes spells a MAC with hyphens, as TFTP paths and Fedora's config
// names do.
func dashes(mac string) string { return strings.ReplaceAll(mac, ":", "-") }

// KernelPath and InitrdPath are the GRUB paths of a machine's kernel and
// i-th initrd on pixie's TFTP server at ip.
func KernelPath(ip, mac string) string {
	return "(tftp," + ip + ")/" + AssetDir + "/" + dashes(mac) + "/kernel"
}

func InitrdPath(ip, mac string, i int) string {
	return "(tftp," + ip + ")/" + AssetDir + "/" + dashes(mac) + "/initrd/" + strconv.Itoa(i)
}

// ConfigPath is the GRUB path of the machine's config on pixie's TFTP
// server, the name every GRUB flavour's config reloads itself from; "" mac
// gives the generic grub/grub.cfg.
func ConfigPath(ip, mac string) string {
	if mac == "" {
		return "(tftp," + ip + ")/grub/grub.cfg"
	}
	return "(tftp," + ip + ")/grub.cfg-01-" + dashes(mac)
}
