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
// shim only (over TFTP, or to a UEFI HTTP boot client as
// /firmware/img/...). The file must exist, or the server-wide set is
// offered.
func ownShim(name, mac string, cfg ReplyConfig) string {
	if cfg.LoaderSets == nil || mac == "" || fileLoader(name) != LoaderGRUB {
		return ""
	}
	own := cfg.LoaderSets.ShimFor(mac, name)
	// The BOOTP file field holds 127 bytes: a path that does not fit (as
	// an HTTP boot URL, the longer form) would be cut and lead nowhere.
	if own == "" || len(cfg.url(FirmwarePath+own)) > 127 || cfg.Firmware == nil || !cfg.Firmware.Has(own) {
		return ""
	}
	return own
}

// ownSets is what a LadderBook asks, when a machine's iPXE was refused,
// whether the machine has a shim of its own to climb to even though the
// server has none.
type ownSets struct {
	sets     LoaderSets
	firmware Firmware
}

// UseLoaderSets lets the ladder step machines whose profile's image has
// its own shim and GRUB to the GRUB rung when the server has no shim of
// its own. fw must serve the images' loaders (firmware.WithImages). Call
// it before the book is used.
func (b *LadderBook) UseLoaderSets(sets LoaderSets, fw Firmware) {
	b.own = ownSets{sets: sets, firmware: fw}
}

// ownGRUB reports whether mac has its own shim for the family. Called
// only when the machine's iPXE was refused and the server has no shim.
func (b *LadderBook) ownGRUB(mac string, arm64 bool) bool {
	if b.own.sets == nil {
		return false
	}
	return ownShim(loaderFile(LoaderGRUB, arm64), mac, ReplyConfig{Firmware: b.own.firmware, LoaderSets: b.own.sets}) != ""
}
