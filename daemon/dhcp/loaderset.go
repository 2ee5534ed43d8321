package dhcp

// A shim boots only kernels its own vendor signed: Debian's shim refuses
// Fedora's kernel under Secure Boot. So a machine on the GRUB loader whose
// profile boots an image with its own shim and GRUB (pulled with the
// image, e.g. Fedora's for Fedora CoreOS) is offered that shim, by a path
// into the image's folder; shim then loads GRUB from the same folder.
// This file is the one place that choice is made.

// LoaderSets says which machines have a loader set of their own.
type LoaderSets interface {
	// ShimFor returns the boot file name of mac's own shim called shim
	// (shimx64.efi, shimaa64.efi), e.g.
	// img/fedora-coreos/stable/x86_64/43.20251110.3.1/shimx64.efi, or ""
	// when the machine's profile has no set of its own.
	ShimFor(mac, shim string) string
}

// ownShim returns the machine's own shim to offer instead of name, the
// server-wide file the ladder chose, or "" to keep name. It applies to a
// shim only, and only over TFTP: the UEFI HTTP boot route serves plain
// file names. The file must exist, or the server-wide set is offered.
func ownShim(name, mac string, class string, cfg ReplyConfig) string {
	if cfg.LoaderSets == nil || mac == "" || class == ClassHTTP || fileLoader(name) != LoaderGRUB {
		return ""
	}
	own := cfg.LoaderSets.ShimFor(mac, name)
	if own == "" || cfg.Firmware == nil || !cfg.Firmware.Has(own) {
		return ""
	}
	return own
}
