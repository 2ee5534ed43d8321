package dhcp

import (
	"fmt"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// Loader is the first stage a UEFI machine is offered, as a person picks it
// (`pixie machines set MAC --loader`, `pixie serve --loader`). BIOS and
// 32-bit UEFI machines have one first stage each and ignore it.
type Loader string

const (
	// LoaderAuto climbs the ladder: snponly, then ipxe, then grub, one rung
	// each time the firmware is seen not to run what it was given.
	LoaderAuto Loader = "auto"
	// LoaderSNPOnly is iPXE driving the NIC through the firmware's own
	// network stack: the smallest and fastest to start (snponly.efi).
	LoaderSNPOnly Loader = "snponly"
	// LoaderIPXE is iPXE with its own NIC drivers (ipxe.efi), for firmware
	// whose network stack is broken.
	LoaderIPXE Loader = "ipxe"
	// LoaderGRUB is the signed shim -> GRUB chain, for firmware that
	// refuses unsigned loaders (UEFI Secure Boot) or has no iPXE (arm64).
	LoaderGRUB Loader = "grub"
)

// Loaders lists the valid loader names in the order people read them.
var loaderNames = []Loader{LoaderAuto, LoaderSNPOnly, LoaderIPXE, LoaderGRUB}

// ParseLoader checks a loader name; "" means auto.
func ParseLoader(s string) (Loader, error) {
	if s == "" {
		return LoaderAuto, nil
	}
	for _, l := range loaderNames {
		if string(l) == s {
			return l, nil
		}
	}
	return "", fmt.Errorf("loader %q: use auto, snponly, ipxe or grub", s)
}

// The shim file names of the GRUB chain: shim is what the firmware loads
// (signed by Microsoft's UEFI CA), and it loads GRUB from the same server.
const (
	FileShimX64   = "shimx64.efi"
	FileShimARM64 = "shimaa64.efi"
	// FileSNPOnlyARM64 is iPXE's snponly build for arm64, served when a
	// person puts one in the firmware directory (Debian ships none).
	FileSNPOnlyARM64 = "snponly-arm64.efi"
)

// rungs is the ladder, bottom first.
var rungs = []Loader{LoaderSNPOnly, LoaderIPXE, LoaderGRUB}

// loaderFile is the file of a loader for a UEFI architecture family.
func loaderFile(l Loader, arm64 bool) string {
	switch {
	case l == LoaderSNPOnly && arm64:
		return FileSNPOnlyARM64
	case l == LoaderSNPOnly:
		return FileSNPOnly
	case l == LoaderIPXE && arm64:
		return FileEFIARM64
	case l == LoaderIPXE:
		return FileEFIx64
	case l == LoaderGRUB && arm64:
		return FileShimARM64
	case l == LoaderGRUB:
		return FileShimX64
	}
	return ""
}

// fileLoader is the loader a first-stage file belongs to ("" for a file
// outside the ladder, such as undionly.kpxe).
func fileLoader(name string) Loader {
	switch name {
	case FileSNPOnly, FileSNPOnlyARM64:
		return LoaderSNPOnly
	case FileEFIx64, FileEFIARM64:
		return LoaderIPXE
	case FileShimX64, FileShimARM64:
		return LoaderGRUB
	}
	return ""
}

// onLadder reports whether an architecture's first stage is chosen by the
// ladder, and whether it is the arm64 family.
func onLadder(a iana.Arch) (ok, arm64 bool) {
	switch a {
	case iana.EFI_X86_64, iana.EFI_BC, iana.EFI_X86_64_HTTP:
		return true, false
	case iana.EFI_ARM64, iana.EFI_ARM64_HTTP:
		return true, true
	}
	return false, false
}

// pickFile is the file a machine on loader l (a rung, never auto) is
// offered. A pinned loader is offered exactly, or nothing when its file is
// missing; a rung reached by the ladder falls upward to the first rung
// whose file exists, so a server without snponly.efi still boots ipxe.efi
// and an arm64 machine without any iPXE gets shim.
func pickFile(l Loader, pinned, arm64 bool, fw Firmware) (string, bool) {
	if pinned {
		f := loaderFile(l, arm64)
		return f, fw != nil && fw.Has(f)
	}
	start := 0
	for i, r := range rungs {
		if r == l {
			start = i
		}
	}
	for _, r := range rungs[start:] {
		if f := loaderFile(r, arm64); fw != nil && fw.Has(f) {
			return f, true
		}
	}
	return loaderFile(l, arm64), false
}

// Ladder timing. A firmware that will not run a loader it was given goes
// back to network booting within seconds: OVMF retries its PXE entry or
// moves on to its UEFI HTTP boot entry at once, real PCs cycle their boot
// order in well under a minute, and a person power-cycling a machine stuck
// at "Access Denied" does so within minutes. So a new DISCOVER up to
// StepWindow after a delivered loader that never came back is a refusal;
// one later than that is a new boot of a machine that was switched off
// (or lost power in the few seconds iPXE takes to start), and does not step.
const StepWindow = 15 * time.Minute

// LadderState is what pixie remembers of one MAC's first-stage attempts.
type LadderState struct {
	// Pin is the machine's own loader choice (auto or empty: the server's
	// default, which may itself be a pin).
	Pin Loader
	// Rung is the ladder step reached under auto (empty: the bottom).
	Rung Loader
	// Offered is the first-stage file of the attempt in progress, offered
	// at OfferedAt; empty before the first attempt.
	Offered   string
	OfferedAt time.Time
	// Delivered is when a transfer of Offered completed after OfferedAt
	// (zero: not delivered; a size probe is no delivery). A file offered
	// to a UEFI HTTP boot client counts as delivered when offered: pixie
	// cannot tie an HTTP firmware download to a MAC, and the file exists.
	Delivered time.Time
	// CameBack is when the loader showed it ran after OfferedAt: an iPXE
	// DHCP request, or a script (iPXE script or GRUB config) fetch.
	CameBack time.Time
	// XID is the transaction ID of the DISCOVER the offer answered: the
	// same ID again is that DISCOVER retransmitted, not a new attempt.
	XID dhcpv4.TransactionID
}

// Attempt is a new network boot seen from a machine: a DISCOVER on port
// 67 from its firmware (not from iPXE).
type Attempt struct {
	At time.Time
	// HTTPClient is true for a UEFI HTTP boot DISCOVER (vendor class
	// HTTPClient): firmware tries that entry right after its PXE entry
	// failed, the signature of a loader refused under Secure Boot.
	HTTPClient bool
	// Retransmit is true when the DISCOVER repeats the transaction ID of
	// the one the last offer answered: the same attempt, never a step.
	Retransmit bool
}

// Climb is the ladder's decision for an attempt: the loader to offer now,
// and when the machine steps (or cannot step further), why. It is the only
// place the rules live; the server keeps the state and applies the result.
// def is the server's default loader; arm64 names the architecture family
// and grub says whether a shim set exists for it.
type Climb struct {
	Loader Loader // the rung or pin to offer now
	Pinned bool   // Loader is a pin: offer it exactly, never step
	// Stepped is true when Loader is a new rung reached by this attempt.
	Stepped bool
	// Reason, when not empty, is the boot event to record: why it stepped,
	// or why it stays although the loader did not run.
	Reason string
}

// ClimbLadder decides what an attempt gets. st is the state before the
// attempt. A pinned loader never steps; neither does a machine whose last
// loader was not delivered (the transfer failed or never started: that is
// a network problem, not a refused loader), whose loader came back (it
// ran: whatever failed later was not the loader), or whose last delivery
// is older than StepWindow (it was switched off).
func ClimbLadder(st LadderState, a Attempt, def Loader, arm64, grub bool) Climb {
	pin := st.Pin
	if pin == "" || pin == LoaderAuto {
		pin = def
	}
	if pin != "" && pin != LoaderAuto {
		return Climb{Loader: pin, Pinned: true}
	}
	rung := st.Rung
	if rung == "" || rung == LoaderAuto {
		rung = LoaderSNPOnly
	}
	keep := Climb{Loader: rung}
	if a.Retransmit || st.Offered == "" || st.Delivered.IsZero() || !st.CameBack.IsZero() {
		return keep
	}
	since := a.At.Sub(st.Delivered)
	if since < 0 || since > StepWindow {
		return keep
	}
	// Step from the rung of the file that was refused, not the rung
	// reached: with snponly.efi missing, the snponly rung offers ipxe.efi,
	// and its refusal means grub is next.
	from := fileLoader(st.Offered)
	if from == "" {
		return keep
	}
	next := LoaderGRUB
	switch from {
	case LoaderSNPOnly:
		next = LoaderIPXE
	case LoaderGRUB:
		// The top: shim itself did not run or GRUB never asked for its
		// config, which the GRUB side explains. Nothing to step to.
		return keep
	}
	why := "firmware did not run " + st.Offered
	if a.HTTPClient {
		why += " (it went on to UEFI HTTP boot)"
	}
	if next == LoaderGRUB && !grub {
		return Climb{Loader: from, Reason: why + ": Secure Boot is probably on, and no shim/GRUB set is available for it (see `pixie doctor`); offering it again"}
	}
	if next == LoaderGRUB {
		why += ": Secure Boot is probably on; offering shim"
	} else {
		why += ": stepping to " + loaderFile(next, arm64)
	}
	return Climb{Loader: next, Stepped: true, Reason: why}
}
