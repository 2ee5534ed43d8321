package firmware

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// Arch is a client architecture family that needs its own first-stage
// file. The values are the ones boot events carry in events.Event.Arch.
type Arch string

const (
	ArchBIOS     Arch = "bios"      // legacy BIOS PXE
	ArchEFIx64   Arch = "efi-x64"   // x86-64 UEFI
	ArchEFIIA32  Arch = "efi-ia32"  // 32-bit x86 UEFI
	ArchEFIARM64 Arch = "efi-arm64" // arm64 UEFI
)

// Source names in File.Source and FileStatus.Source. An OS package
// directory is named by its path, e.g. "/usr/lib/ipxe".
const (
	SourceDataDir  = "data-dir"
	SourceEmbedded = "embedded"
)

// Kind is what a known file is: iPXE, or one of the two Secure Boot
// loaders (shim, the Microsoft-signed first stage, and the GRUB it
// verifies and starts).
type Kind string

const (
	KindIPXE Kind = "ipxe"
	KindShim Kind = "shim"
	KindGRUB Kind = "grub"
)

// KnownFile is one first-stage file pixie knows how to offer.
type KnownFile struct {
	// Name is what clients ask for and what the override directory and
	// the embedded set call the file.
	Name string
	Arch Arch
	Kind Kind
	// OSNames are the paths, relative to an OS package directory, tried in
	// order for this file: Debian's name first, then Fedora's. iPXE files
	// are looked up in the iPXE directories (DefaultOSDirs), loaders in
	// the loader directories (DefaultLoaderDirs).
	OSNames []string
}

// DefaultLoaderDirs returns where OS packages install signed shim and GRUB
// builds: Debian's shim-signed and grub-efi-{amd64,arm64}-signed under
// /usr/lib/shim and /usr/lib/grub/*-efi-signed.
func DefaultLoaderDirs() []string { return []string{"/usr/lib"} }

// Known returns the first-stage files pixie knows, grouped by architecture
// in the order of Arches and, within one architecture, in order of
// preference. The slice is new on every call.
func Known() []KnownFile {
	return []KnownFile{
		{Name: "undionly.kpxe", Arch: ArchBIOS, Kind: KindIPXE, OSNames: []string{"undionly.kpxe"}},
		{Name: "ipxe.efi", Arch: ArchEFIx64, Kind: KindIPXE, OSNames: []string{"ipxe.efi", "ipxe-x86_64.efi"}},
		{Name: "snponly.efi", Arch: ArchEFIx64, Kind: KindIPXE, OSNames: []string{"snponly.efi", "ipxe-snponly-x86_64.efi"}},
		// shim loads grubx64.efi from the directory it came from; Debian's
		// network GRUB image (grubnet*) has its prefix at /grub and its
		// network modules built in, the disk image (grubx64) has not.
		{Name: "shimx64.efi", Arch: ArchEFIx64, Kind: KindShim, OSNames: []string{"shim/shimx64.efi.signed"}},
		{Name: "grubx64.efi", Arch: ArchEFIx64, Kind: KindGRUB, OSNames: []string{"grub/x86_64-efi-signed/grubnetx64.efi.signed"}},
		{Name: "ipxe-i386.efi", Arch: ArchEFIIA32, Kind: KindIPXE, OSNames: []string{"ipxe-i386.efi"}},
		{Name: "ipxe-arm64.efi", Arch: ArchEFIARM64, Kind: KindIPXE, OSNames: []string{"ipxe-arm64.efi", "arm64-efi/ipxe.efi"}},
		{Name: "shimaa64.efi", Arch: ArchEFIARM64, Kind: KindShim, OSNames: []string{"shim/shimaa64.efi.signed"}},
		{Name: "grubaa64.efi", Arch: ArchEFIARM64, Kind: KindGRUB, OSNames: []string{"grub/arm64-efi-signed/grubnetaa64.efi.signed"}},
	}
}

// Arches returns the architectures of Known, in report order.
func Arches() []Arch { return []Arch{ArchBIOS, ArchEFIx64, ArchEFIIA32, ArchEFIARM64} }

// ArchOf returns the architecture of a known file name (as CleanName
// returns it), for attributing a download to a kind of client.
func ArchOf(name string) (Arch, bool) {
	k, ok := known(name)
	return k.Arch, ok
}

// KindOf returns what kind of known file name is.
func KindOf(name string) (Kind, bool) {
	k, ok := known(name)
	return k.Kind, ok
}

// Optional reports whether name is a file shim asks for before its
// second stage, on every boot, whether or not the server has it
// (revocation lists, an extra certificate): "not found" is the normal
// answer and no cause for a warning. shim asks in the directory it came
// from, so under an image's folder (img/...) too.
func Optional(name string) bool {
	n := path.Base(strings.TrimPrefix(name, "/"))
	return strings.HasPrefix(n, "revocations") && strings.HasSuffix(n, ".efi") ||
		strings.HasPrefix(n, "shim_certificate") && strings.HasSuffix(n, ".efi")
}

func known(name string) (KnownFile, bool) {
	for _, k := range Known() {
		if k.Name == name {
			return k, true
		}
	}
	return KnownFile{}, false
}

// Errors Open returns. Test for them with errors.Is.
var (
	// ErrNotFound means no source has the file.
	ErrNotFound = errors.New("no such firmware file")
	// ErrRefused means the name, or what it resolves to, is not allowed;
	// the error is a *RefusedError that says why.
	ErrRefused = errors.New("firmware name refused")
)

// RefusedError says why a name was refused. It matches ErrRefused.
type RefusedError struct {
	Name   string // the name as the client gave it
	Reason string // e.g. "parent directory (..)"
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("firmware name %s refused: %s", quote(e.Name), e.Reason)
}

// Unwrap makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Unwrap() error { return ErrRefused }

func refused(reason string) *RefusedError { return &RefusedError{Reason: reason} }

// quote quotes a client-supplied name for messages, cut short so that a
// hostile 500-byte name does not flood the log.
func quote(name string) string {
	const max = 80
	if len(name) > max {
		return fmt.Sprintf("%q… (%d bytes)", name[:max], len(name))
	}
	return fmt.Sprintf("%q", name)
}

// MaxNameLen is the longest name CleanName accepts, in bytes: the usual
// file system limit, far above any firmware name.
const MaxNameLen = 255

// CleanName validates a name a client asked for and returns the file name
// to look up. It removes one leading "/" (firmware often asks for
// "/ipxe.efi"); what is left must be a single file name of letters, digits
// and "._+-~", not starting with a dot. Anything else is a *RefusedError:
// traversal ("..", "a/../../x"), directories ("/etc/passwd" asks for
// "etc/passwd"), absolute paths ("//etc/passwd"), backslashes, NUL and other
// control bytes, empty and over-long names.
func CleanName(name string) (string, error) {
	clean, err := cleanName(name)
	if err != nil {
		err.Name = name
		return "", err
	}
	return clean, nil
}

func cleanName(name string) (string, *RefusedError) {
	n := strings.TrimPrefix(name, "/")
	switch {
	case n == "":
		return "", refused("empty name")
	case len(n) > MaxNameLen:
		return "", refused(fmt.Sprintf("name too long (%d bytes, at most %d)", len(n), MaxNameLen))
	case strings.ContainsRune(n, 0):
		return "", refused("NUL byte in name")
	case strings.ContainsRune(n, '\\'):
		return "", refused("backslash in name")
	}
	for _, elem := range strings.Split(n, "/") {
		if elem == ".." {
			return "", refused("parent directory (..)")
		}
	}
	switch {
	case strings.HasPrefix(n, "/"):
		return "", refused("absolute path")
	case strings.Contains(n, "/"):
		return "", refused("directories are not served: firmware names are plain file names")
	case n[0] == '.':
		return "", refused("name starts with a dot")
	}
	for _, c := range []byte(n) {
		if !nameByte(c) {
			if c < 0x20 || c >= 0x7f {
				return "", refused(fmt.Sprintf("byte %#02x in name", c))
			}
			return "", refused(fmt.Sprintf("character %q in name", c))
		}
	}
	if !fs.ValidPath(n) { // implied by the above; kept as the last word
		return "", refused("not a valid path")
	}
	return n, nil
}

func nameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == '_' || c == '-' || c == '+' || c == '~'
}
