package testnet

import (
	"fmt"
	"path/filepath"
)

// NIC is the VM's network card model.
type NIC string

const (
	// Virtio is virtio-net-pci, the default: OVMF has its own driver for
	// it, so under UEFI its option ROM is left out and OVMF's native PXE
	// (or HTTP boot) client runs on OVMF's driver.
	Virtio NIC = "virtio"
	// E1000E is an Intel 82574 (QEMU's e1000e). OVMF has no driver for
	// it, so the card keeps its iPXE option ROM (efi-e1000e.rom from
	// ipxe-qemu): under OVMF and SeaBIOS alike that ROM's iPXE, with its
	// own intel driver, is what network-boots, so the first DISCOVER is
	// already iPXE's (user class iPXE) and no TFTP loader is fetched.
	// Linux then uses the e1000e module (IgnitionInitrdModules).
	E1000E NIC = "e1000e"
)

// UEFIHTTP is UEFI with OVMF's PXE boot options switched off through
// fw_cfg, so the only network boot option left is OVMF's "UEFI HTTPv4":
// a DISCOVER with vendor class HTTPClient (arch 16), the boot file as an
// http:// URL, no TFTP at all.
const UEFIHTTP Firmware = "uefi-http"

// nicArgs returns the -device (and, for a card that needs its option ROM,
// -L) arguments for opts.NIC on netdev n0. ownROM says whether the
// firmware's own driver is wanted (OVMF with virtio: romfile= empty).
func nicArgs(opts VMOptions, ownROM bool) ([]string, error) {
	switch opts.NIC {
	case "", Virtio:
		dev := "virtio-net-pci,netdev=n0,mac=" + opts.MAC
		if ownROM {
			dev += ",romfile="
		}
		return []string{"-device", dev}, nil
	case E1000E:
		rom, err := IPXEOptionROM()
		if err != nil {
			return nil, err
		}
		// The default romfile (efi-e1000e.rom), found through -L like
		// the BIOS case's: see IPXEOptionROM.
		return []string{"-L", filepath.Dir(rom), "-device", "e1000e,netdev=n0,mac=" + opts.MAC}, nil
	}
	return nil, fmt.Errorf("testnet: unknown NIC %q", opts.NIC)
}

// httpBootOnly are the fw_cfg switches that leave OVMF's HTTP boot as its
// only network boot option.
func httpBootOnly() []string {
	return []string{
		"-fw_cfg", "name=opt/org.tianocore/IPv4PXESupport,string=n",
		"-fw_cfg", "name=opt/org.tianocore/IPv6PXESupport,string=n",
	}
}
