package testnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Firmware selects what the VM boots with.
type Firmware string

const (
	// UEFI is OVMF on a q35 machine with the NIC's option ROM disabled, so
	// OVMF's own PXE client runs (PXEClient:Arch:00007, proxy offer, 4011,
	// TFTP of ipxe.efi).
	UEFI Firmware = "uefi"
	// BIOS is SeaBIOS with the iPXE option ROM from ipxe-qemu: the PXE
	// client is already iPXE (user class "iPXE") and goes straight to HTTP.
	BIOS Firmware = "bios"
	// UEFISecureBoot is UEFI with Secure Boot enforced: OVMF's secboot
	// build with Microsoft's keys enrolled (see secureboot.go).
	UEFISecureBoot Firmware = "uefi-secureboot"
)

// DefaultVMTimeout bounds one boot. Under TCG on 2 cores a UEFI boot to the
// Ignition fetch takes ~30 s and a BIOS one ~13 s.
const DefaultVMTimeout = 180 * time.Second

// VMOptions describes one VM boot.
type VMOptions struct {
	Firmware Firmware // required
	MAC      string   // required: a fixed MAC, e.g. "52:54:00:77:00:01"
	Tap      string   // required: from LAN.AddTap, one VM per tap at a time
	NIC      NIC      // default Virtio

	MemoryMB int           // default 512
	Timeout  time.Duration // default DefaultVMTimeout

	// StopOn are serial-console substrings that end the boot early once
	// a complete line containing one has been printed. Default:
	// DefaultStopMarkers.
	StopOn []string

	// ExtraArgs are appended to QEMU's command line.
	ExtraArgs []string

	// Console, when set, receives the serial console as it is written
	// (polled a few times a second), for watching a boot live.
	Console io.Writer
}

// DefaultStopMarkers are the lines after which nothing more can happen: the
// test initrd reported its result, the kernel died, or OVMF gave up on the
// network and fell back to its shell. (SeaBIOS giving up ends QEMU by
// itself: RunVM sets reboot-timeout=0 and -no-reboot.)
func DefaultStopMarkers() []string {
	return []string{
		MarkerIgnitionSHA256, MarkerFetchFailed, "Kernel panic",
		"UEFI Interactive Shell", "No bootable option or device was found",
	}
}

// VMResult is what one boot produced.
type VMResult struct {
	Log     string        // the serial console
	LogPath string        // where Log was written
	Elapsed time.Duration // QEMU start to marker, exit or timeout
	Matched string        // the StopOn marker seen, "" if none
	Exited  bool          // QEMU ended on its own (poweroff, reboot, error)
	ExitErr error         // QEMU's exit status when Exited
	Stderr  string        // QEMU's own output (errors about devices, ROMs)
}

// IgnitionSHA256 returns the sha256 the test initrd printed for the config
// it fetched.
func (r *VMResult) IgnitionSHA256() (string, bool) {
	return markerValue(r.Log, MarkerIgnitionSHA256)
}

// IgnitionURL returns the config URL the test initrd fetched (from the
// kernel command line).
func (r *VMResult) IgnitionURL() (string, bool) {
	return markerValue(r.Log, MarkerIgnitionURL)
}

// KernelCmdline returns the kernel command line the test initrd printed.
func (r *VMResult) KernelCmdline() (string, bool) {
	return markerValue(r.Log, MarkerCmdline)
}

// String summarises the result for test logs.
func (r *VMResult) String() string {
	how := "timed out"
	switch {
	case r.Matched != "":
		how = "saw " + strconv.Quote(r.Matched)
	case r.Exited:
		how = fmt.Sprintf("QEMU exited (%v)", r.ExitErr)
	}
	return fmt.Sprintf("%s after %s", how, r.Elapsed.Round(100*time.Millisecond))
}

// markerValue returns the rest of the first complete line that starts with
// marker (serial output may carry \r and leading noise).
func markerValue(log, marker string) (string, bool) {
	lines := strings.Split(log, "\n")
	for _, line := range lines[:len(lines)-1] { // the last one is unfinished
		if i := strings.Index(line, marker); i >= 0 {
			return strings.TrimSpace(line[i+len(marker):]), true
		}
	}
	return "", false
}

// completeLineWith returns the first marker that appears on a line already
// terminated by a newline: a line still being written may be cut short.
func completeLineWith(log string, markers []string) string {
	end := strings.LastIndexByte(log, '\n')
	if end < 0 {
		return ""
	}
	done := log[:end]
	for _, m := range markers {
		if strings.Contains(done, m) {
			return m
		}
	}
	return ""
}

// QEMUArgs returns the QEMU command line for opts, with the serial console
// written to serialLog and, for UEFI, the writable variable store at
// varsCopy.
func QEMUArgs(opts VMOptions, serialLog, varsCopy string) ([]string, error) {
	mem := opts.MemoryMB
	if mem == 0 {
		mem = 512
	}
	args := []string{
		"-accel", "tcg",
		"-m", strconv.Itoa(mem),
		"-smp", "1",
		"-nographic", "-nodefaults", "-no-reboot",
		"-serial", "file:" + serialLog,
		"-netdev", "tap,id=n0,ifname=" + opts.Tap + ",script=no,downscript=no",
	}
	switch opts.Firmware {
	case UEFI, UEFIHTTP:
		code, _, err := OVMF()
		if err != nil {
			return nil, err
		}
		args = append(args,
			"-machine", "q35",
			"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+qemuEscape(code),
			"-drive", "if=pflash,format=raw,unit=1,file="+qemuEscape(varsCopy),
		)
		// For virtio romfile= empty: no iPXE ROM, so OVMF's native PXE runs.
		nic, err := nicArgs(opts, true)
		if err != nil {
			return nil, err
		}
		args = append(args, nic...)
		if opts.Firmware == UEFIHTTP {
			args = append(args, httpBootOnly()...)
		}
	case UEFISecureBoot:
		sb, err := secureBootArgs(opts, varsCopy)
		if err != nil {
			return nil, err
		}
		args = append(args, sb...)
	case ARM64, ARM64SecureBoot:
		a, err := arm64Args(opts, varsCopy)
		if err != nil {
			return nil, err
		}
		args = append(args, a...)
	case BIOS:
		rom, err := IPXEOptionROM()
		if err != nil {
			return nil, err
		}
		// Default romfile, found through -L: see IPXEOptionROM.
		args = append(args,
			"-L", filepath.Dir(rom),
			"-machine", "pc",
			"-device", "virtio-net-pci,netdev=n0,mac="+opts.MAC,
			// Without reboot-timeout SeaBIOS halts for ever at "No bootable
			// device"; with 0 it reboots, which -no-reboot turns into an exit.
			"-boot", "order=n,reboot-timeout=0",
		)
	default:
		return nil, fmt.Errorf("testnet: unknown firmware %q", opts.Firmware)
	}
	return append(args, opts.ExtraArgs...), nil
}

// qemuEscape doubles commas, QEMU's option separator, inside a value.
func qemuEscape(s string) string { return strings.ReplaceAll(s, ",", ",,") }

// RunVM boots a VM in the bridge namespace on opts.Tap and waits until a
// complete serial line contains one of opts.StopOn, QEMU exits, the timeout
// passes or ctx ends. QEMU is always gone when RunVM returns. The error is
// only for failing to run QEMU at all; how the boot went is in the result
// (check Matched or IgnitionSHA256, and log Log when it is not what the test
// wanted).
func (l *LAN) RunVM(ctx context.Context, opts VMOptions) (*VMResult, error) {
	if opts.MAC == "" || opts.Tap == "" {
		return nil, errors.New("testnet: VMOptions needs MAC and Tap")
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = DefaultVMTimeout
		if opts.Firmware.IsARM64() {
			timeout = ARM64VMTimeout
		}
	}
	stopOn := opts.StopOn
	if stopOn == nil {
		stopOn = DefaultStopMarkers()
	}

	dir, err := os.MkdirTemp(l.Dir, fmt.Sprintf("vm-%s-%s-*", opts.Firmware, strings.ReplaceAll(opts.MAC, ":", "")))
	if err != nil {
		return nil, err
	}
	serial := filepath.Join(dir, "serial.log")
	vars := filepath.Join(dir, "OVMF_VARS.fd")
	if opts.Firmware == UEFI || opts.Firmware == UEFIHTTP || opts.Firmware == UEFISecureBoot {
		_, tmpl, err := OVMF()
		if opts.Firmware == UEFISecureBoot {
			_, tmpl, err = OVMFSecureBoot()
		}
		if err != nil {
			return nil, err
		}
		// Each VM gets fresh variables: a boot must not depend on the NVRAM
		// (boot order, PXE state) a previous VM left behind.
		if err := CopyFile(vars, tmpl); err != nil {
			return nil, err
		}
	}
	qemu := "qemu-system-x86_64"
	if opts.Firmware.IsARM64() {
		_, tmpl, err := AAVMF(opts.Firmware)
		if err != nil {
			return nil, err
		}
		if err := CopyFile(vars, tmpl); err != nil {
			return nil, err
		}
		qemu = "qemu-system-aarch64"
	}
	args, err := QEMUArgs(opts, serial, vars)
	if err != nil {
		return nil, err
	}

	start := time.Now()
	p, err := l.Start(l.BridgeNS, qemu, args...)
	if err != nil {
		return nil, err
	}

	res := &VMResult{LogPath: serial}
	shown := 0 // bytes of the serial log copied to opts.Console
	show := func(log string) {
		if opts.Console != nil && len(log) > shown {
			_, _ = io.WriteString(opts.Console, log[shown:])
			shown = len(log)
		}
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case <-p.Done():
			res.Exited, res.ExitErr = true, p.Err()
			break wait
		case <-ctx.Done():
			break wait
		case <-deadline.C:
			break wait
		case <-tick.C:
			log := readFile(serial)
			show(log)
			if m := completeLineWith(log, stopOn); m != "" {
				res.Matched = m
				break wait
			}
		}
	}
	res.Elapsed = time.Since(start)
	if res.Matched != "" {
		// The initrd powers off right after its marker: give QEMU a moment
		// to exit by itself so the log is complete.
		select {
		case <-p.Done():
			res.Exited, res.ExitErr = true, p.Err()
		case <-time.After(5 * time.Second):
		}
	}
	p.Stop()
	res.Log = readFile(serial)
	show(res.Log)
	res.Stderr = p.Log()
	if res.Matched == "" {
		res.Matched = completeLineWith(res.Log, stopOn)
	}
	return res, nil
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// CopyFile copies src to dst (created or truncated, mode 0644): for a VM's
// variable store, or to put a kernel into a server's asset directory.
func CopyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
