package testnet

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"os"
	"os/exec"
	"path"
	"sort"
	"strings"
	"testing"
)

// Markers of the Ignition initrd (WriteIgnitionInitrd), besides
// MarkerCmdline, MarkerIgnitionURL and MarkerFetchFailed.
const (
	// MarkerIgnitionApplied ends a run in which Ignition's fetch and
	// files stages both succeeded; the report lines come before it.
	MarkerIgnitionApplied = "PIXIE-E2E-IGNITION-APPLIED"
	// MarkerIgnitionFailed is followed by Ignition's own CRITICAL
	// message(s) when a stage failed (the config was refused, say).
	MarkerIgnitionFailed = "PIXIE-E2E-IGNITION-FAILED="
	// Report lines, one per thing Ignition wrote:
	MarkerIgnFile     = "PIXIE-E2E-IGN-FILE="     // PATH mode=0644 sha256=HEX
	MarkerIgnHostname = "PIXIE-E2E-IGN-HOSTNAME=" // /etc/hostname's first line
	MarkerIgnUser     = "PIXIE-E2E-IGN-USER="     // NAME uid=N home=DIR
	MarkerIgnSSHKey   = "PIXIE-E2E-IGN-SSHKEY="   // NAME KEY...
	MarkerIgnUnit     = "PIXIE-E2E-IGN-UNIT="     // NAME enabled (from Ignition's preset)
	// MarkerIgnExec is followed by "UNIT rc=N": the initrd ran the
	// enabled unit's ExecStart= lines (see ignitionInit).
	MarkerIgnExec = "PIXIE-E2E-IGN-EXEC="
)

// IgnitionVersion is the spec the packaged Ignition reads: Debian 12's
// Ignition 2.14 takes stable configs up to 3.3.0.
const IgnitionVersion = "3.3.0"

// IgnitionBinary returns Debian's Ignition (package ignition, 2.14): the
// program Fedora CoreOS and Flatcar run in their initramfs, shipped by
// Debian as a dracut module.
func IgnitionBinary() (string, error) {
	return firstFile("Ignition (Debian package ignition)",
		"/usr/lib/dracut/modules.d/30ignition/ignition", "/usr/bin/ignition")
}

// ignitionTools are the host programs Ignition and the initrd call, copied
// with their shared libraries: useradd/usermod (Ignition's users stage
// runs them with --root) and curl (what pixie's phone-home unit runs).
func ignitionTools() []string {
	return []string{"/usr/sbin/useradd", "/usr/sbin/usermod", "/usr/bin/curl"}
}

// RequireIgnition skips the test unless the Ignition initrd can be built.
func RequireIgnition(t testing.TB) {
	t.Helper()
	if _, err := IgnitionBinary(); err != nil {
		skipOrFail(t, "%v", err)
	}
	RequireTools(t, "ldd")
	for _, p := range ignitionTools() {
		if _, err := os.Stat(p); err != nil {
			skipOrFail(t, "%s missing (Debian packages passwd, curl)", p)
		}
	}
}

// IgnitionInitrdModules are InitrdModules plus e1000e, so the same initrd
// boots a VM with an Intel e1000e NIC.
func IgnitionInitrdModules() []string { return append(InitrdModules(), "e1000e") }

// WriteIgnitionInitrd writes a gzip newc initrd like WriteInitrd's, whose
// /init runs the real Ignition instead of fetching the config with wget:
// after DHCP it runs `ignition --platform=metal --stage=fetch` (which reads
// ignition.config.url from the kernel command line, as on Fedora CoreOS)
// and `--stage=files --root=/sysroot` on a tmpfs root holding a minimal
// /etc, then prints what Ignition wrote (the Marker* report lines) and
// MarkerIgnitionApplied, or MarkerIgnitionFailed with Ignition's message.
func WriteIgnitionInitrd(dst string, k Kernel) error {
	busybox, err := Busybox()
	if err != nil {
		return err
	}
	ign, err := IgnitionBinary()
	if err != nil {
		return err
	}
	mods, err := k.ModulesFor(IgnitionInitrdModules()...)
	if err != nil {
		return err
	}
	bins := map[string]string{"usr/bin/ignition": ign}
	for _, p := range ignitionTools() {
		bins[strings.TrimPrefix(p, "/")] = p
	}
	libs := map[string]bool{}
	for _, src := range bins {
		l, err := sharedLibs(src)
		if err != nil {
			return err
		}
		for _, p := range l {
			libs[p] = true
		}
	}

	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriter(f)
	zw, _ := gzip.NewWriterLevel(bw, gzip.BestSpeed) // 25 MB of binaries: speed over size
	cw := &cpioWriter{w: zw}
	dirs := map[string]bool{}
	mkdirs := func(p string) {
		var parts []string
		for d := path.Dir(p); d != "." && d != "/" && !dirs[d]; d = path.Dir(d) {
			parts = append(parts, d)
		}
		for i := len(parts) - 1; i >= 0; i-- {
			dirs[parts[i]] = true
			cw.dir(parts[i])
		}
	}
	for _, d := range []string{"bin", "dev", "etc", "lib/modules", "proc", "sys", "tmp", "run", "var/run", "root", "sysroot", "usr/bin", "usr/sbin"} {
		mkdirs(d + "/x")
	}
	copyIn := func(name, src string, perm int) error {
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		mkdirs(name)
		cw.file(name, perm, b)
		return nil
	}
	if err := copyIn("bin/busybox", busybox, 0o755); err != nil {
		return err
	}
	applets := append(initrdApplets(), "find", "grep", "sed", "tee", "head", "stat", "tr", "awk", "basename", "cp", "chmod", "rm", "touch", "wc")
	for _, applet := range applets {
		cw.symlink("bin/"+applet, "busybox")
	}
	cw.charDev("dev/console", 0o600, 5, 1)
	var names []string
	for _, m := range mods {
		b, err := m.Contents()
		if err != nil {
			return err
		}
		cw.file("lib/modules/"+m.Name+".ko", 0o644, b)
		names = append(names, m.Name)
	}
	var sorted []string
	for name := range bins {
		sorted = append(sorted, name)
	}
	sort.Strings(sorted)
	for _, name := range sorted {
		if err := copyIn(name, bins[name], 0o755); err != nil {
			return err
		}
	}
	sorted = sorted[:0]
	for p := range libs {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
	for _, p := range sorted {
		if err := copyIn(strings.TrimPrefix(p, "/"), p, 0o755); err != nil {
			return err
		}
	}
	cw.file("bin/setfiles", 0o755, []byte(setfilesScript))
	cw.file("etc/udhcpc.script", 0o755, []byte(udhcpcScript))
	cw.file("init", 0o755, initFor(ignitionInit, names))
	cw.trailer()
	if cw.err != nil {
		return fmt.Errorf("write %s: %w", dst, cw.err)
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// sharedLibs lists the shared libraries (and the program interpreter) a
// dynamically linked program loads, as ldd resolves them on this host.
func sharedLibs(bin string) ([]string, error) {
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %v", bin, err)
	}
	var libs []string
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Fields(line)
		switch {
		case len(fields) >= 3 && fields[1] == "=>" && strings.HasPrefix(fields[2], "/"):
			libs = append(libs, fields[2])
		case len(fields) >= 1 && strings.HasPrefix(fields[0], "/"):
			libs = append(libs, fields[0]) // the interpreter, /lib64/ld-linux-x86-64.so.2
		case len(fields) >= 3 && fields[2] == "not":
			return nil, fmt.Errorf("ldd %s: %s", bin, strings.TrimSpace(line))
		}
	}
	return libs, nil
}

// setfilesScript stands in for SELinux's setfiles, which Debian's Ignition
// runs unconditionally after the files stage to relabel what it wrote: the
// tmpfs root has no SELinux policy and the kernel runs without SELinux, so
// there is nothing to label. It reads the patterns Ignition pipes to it
// and says so.
const setfilesScript = `#!/bin/sh
n=$(tr '\0' '\n' | wc -l)
echo "PIXIE-E2E: setfiles: no SELinux policy on the tmpfs root, $n patterns not relabeled"
exit 0
`

// ignitionInit is the Ignition initrd's /init. Every wait is bounded and it
// always ends in poweroff -f.
//
// There is no systemd: the phone-home unit is run the way systemd would
// start it at boot, by the init itself: for each unit Ignition enabled (its
// preset file), the ExecStart= lines are taken from the unit Ignition
// wrote, systemd's "-" prefix dropped and "%%" turned back into "%", and
// run by the shell, whose double-quote rules match the quoting pixie's
// unitArg writes for a URL.
const ignitionInit = `#!/bin/sh
export PATH=/bin:/usr/bin:/usr/sbin
set -f
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
echo 1 > /proc/sys/kernel/printk
exec </dev/console >/dev/console 2>&1

@NETUP@
ignfail() {
	msg=$(grep -h '^CRITICAL' "$@" | sed 's/^CRITICAL *: *//' | tr '\n' ' ')
	echo "PIXIE-E2E-IGNITION-FAILED=${msg:-Ignition failed without a CRITICAL line}"
	finish
}
echo "PIXIE-E2E-NIC=$(basename $(readlink /sys/class/net/eth0/device/driver))"
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	ignition.config.url=*) echo "PIXIE-E2E-IGNITION-URL=${arg#*=}" ;;
	esac
done

# The root Ignition writes into: what a first boot's /sysroot has before
# Ignition runs. SELINUXTYPE because Debian's Ignition reads it even with
# SELinux off.
mount -t tmpfs tmpfs /sysroot
mkdir -p /sysroot/etc/selinux /sysroot/home /run/ignition
echo 'root:x:0:0:root:/root:/bin/sh' > /sysroot/etc/passwd
echo 'root:x:0:' > /sysroot/etc/group
echo 'root:*:19000:0:99999:7:::' > /sysroot/etc/shadow
echo 'root:*::' > /sysroot/etc/gshadow
chmod 600 /sysroot/etc/shadow /sysroot/etc/gshadow
printf 'SELINUX=disabled\nSELINUXTYPE=targeted\n' > /sysroot/etc/selinux/config
find /sysroot -type f > /tmp/before

timeout 150 ignition --platform=metal --stage=fetch --log-to-stdout --fetch-timeout=60s > /tmp/fetch.log 2>&1
rc=$?
grep -v '^ \|^{\|^}' /tmp/fetch.log | sed 's/^/ignition: /'
[ $rc -eq 0 ] || ignfail /tmp/fetch.log
timeout 120 ignition --platform=metal --stage=files --root=/sysroot --log-to-stdout > /tmp/files.log 2>&1
rc=$?
grep -v '^ \|^{\|^}' /tmp/files.log | sed 's/^/ignition: /'
[ $rc -eq 0 ] || ignfail /tmp/files.log

# What Ignition wrote.
for f in $(find /sysroot -type f | sort); do
	grep -qx "$f" /tmp/before && continue
	case "$f" in */etc/passwd-|*/etc/shadow-|*/etc/group-|*/etc/gshadow-|*/.pwd.lock) continue ;; esac
	echo "PIXIE-E2E-IGN-FILE=${f#/sysroot} mode=$(stat -c %a "$f") sha256=$(sha256sum "$f" | cut -d' ' -f1)"
done
[ -f /sysroot/etc/hostname ] && echo "PIXIE-E2E-IGN-HOSTNAME=$(head -n 1 /sysroot/etc/hostname)"
awk -F: '$3 >= 1000 { print "PIXIE-E2E-IGN-USER=" $1 " uid=" $3 " home=" $6 }' /sysroot/etc/passwd
for u in $(awk -F: '$3 >= 1000 { print $1 }' /sysroot/etc/passwd); do
	home=$(awk -F: -v u="$u" '$1 == u { print $6 }' /sysroot/etc/passwd)
	[ -d "/sysroot$home/.ssh" ] || continue
	for k in $(find "/sysroot$home/.ssh" -type f | sort); do
		grep -v '^#' "$k" | grep . | sed "s|^|PIXIE-E2E-IGN-SSHKEY=$u |"
	done
done
units=
if [ -f /sysroot/etc/systemd/system-preset/20-ignition.preset ]; then
	units=$(sed -n 's/^enable //p' /sysroot/etc/systemd/system-preset/20-ignition.preset)
fi
for u in $units; do
	echo "PIXIE-E2E-IGN-UNIT=$u enabled"
done

# Start the enabled units as systemd would at boot (see the Go comment).
for u in $units; do
	unit=/sysroot/etc/systemd/system/$u
	[ -f "$unit" ] || continue
	rc=0
	sed -n 's/^ExecStart=//p' "$unit" > /tmp/exec
	while read -r line; do
		ignore=
		case "$line" in -*) ignore=1; line=${line#-} ;; esac
		line=$(echo "$line" | sed 's/%%/%/g')
		echo "PIXIE-E2E: $u: $line"
		eval "timeout 90 $line"
		r=$?
		[ $r -ne 0 ] && [ -z "$ignore" ] && rc=$r && break
	done < /tmp/exec
	echo "PIXIE-E2E-IGN-EXEC=$u rc=$rc"
done
echo "PIXIE-E2E-IGNITION-APPLIED"
finish
`
