// Package firmware finds and opens the first-stage files pixie sends to
// network-booting machines (over TFTP, and over HTTP to UEFI HTTP boot
// clients): iPXE, and for machines iPXE cannot boot (UEFI Secure Boot,
// arm64) the signed loaders shim (shimx64.efi, shimaa64.efi) and GRUB
// (grubx64.efi, grubaa64.efi).
//
// A Set looks in three kinds of source, in this order, and per file the
// first source that has it wins:
//
//  1. the data directory's firmware/ override directory, where an
//     administrator drops their own iPXE builds;
//  2. the firmware embedded in the binary (package assets/firmware), if the
//     binary was built after `make firmware`;
//  3. the OS's iPXE package directories (DefaultOSDirs: Debian and Ubuntu
//     install to /usr/lib/ipxe, Fedora to /usr/share/ipxe), for iPXE files;
//  4. the OS's loader directories (DefaultLoaderDirs), for shim and GRUB:
//     Debian's shim-signed (/usr/lib/shim/shimx64.efi.signed) and
//     grub-efi-amd64-signed (/usr/lib/grub/x86_64-efi-signed/
//     grubnetx64.efi.signed, the network image), and their arm64 twins.
//
// So an override replaces one file without hiding the others, and a machine
// with the ipxe package installed needs nothing else.
//
// # Names
//
// Clients ask for the names in Known: undionly.kpxe (BIOS), ipxe.efi and
// snponly.efi (x86-64 UEFI), ipxe-i386.efi (32-bit UEFI) and ipxe-arm64.efi
// (arm64 UEFI). The override directory and the embedded set use exactly
// these names and may hold other files too (a custom build under another
// name, say). OS package directories are not pixie's: only the known files
// are served from them, under the file names the packages use (Fedora's
// ipxe-x86_64.efi is served as ipxe.efi, its arm64-efi/ipxe.efi as
// ipxe-arm64.efi). Everything else there, such as the NIC option ROMs in
// /usr/lib/ipxe/qemu, is never served.
//
// # Safety
//
// Every name is a client's, so it is checked by CleanName before any file
// system is touched: it must be a single plain file name. One leading "/"
// is removed first, because PXE firmware commonly asks for "/undionly.kpxe"
// meaning the root of the TFTP tree. The override directory is opened with
// os.OpenRoot, so a symlink in it that leads outside it is refused (a
// symlink to another file inside it is followed). Only regular files are
// served. Symlinks in OS package directories are followed because the
// package puts them there (Debian's /usr/lib/ipxe/ipxe.efi points to
// /boot/ipxe.efi) and a client name only ever selects one of the fixed
// package file names.
package firmware

import "path/filepath"

// DefaultOSDirs returns where OS iPXE packages install their files on this
// OS (osdirs_*.go).
func DefaultOSDirs() []string { return osDirs() }

// OverrideDir returns the override directory inside a data directory.
func OverrideDir(dataDir string) string { return filepath.Join(dataDir, "firmware") }
