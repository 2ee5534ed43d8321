package testnet

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Marker lines the test initrd prints on the serial console.
const (
	// MarkerIgnitionSHA256 is followed by the hex sha256 of the config the
	// initrd fetched from the URL on its kernel command line.
	MarkerIgnitionSHA256 = "PIXIE-E2E-IGNITION-SHA256="
	// MarkerFetchFailed means no config URL was given, DHCP failed or the
	// fetch failed; the lines before it say which.
	MarkerFetchFailed = "PIXIE-E2E-FETCH-FAILED"
	// MarkerCmdline is followed by the kernel command line the initrd saw.
	MarkerCmdline = "PIXIE-E2E-CMDLINE="
	// MarkerIgnitionURL is followed by the config URL the initrd fetches.
	MarkerIgnitionURL = "PIXIE-E2E-IGNITION-URL="
)

// InitrdModules are the modules the test initrd loads: Debian builds the
// virtio PCI transport and virtio-net as modules. Their dependencies
// (virtio, virtio_ring, net_failover, failover, ...) are added by
// Kernel.ModulesFor.
func InitrdModules() []string { return []string{"virtio_pci", "virtio_net"} }

// BuildInitrd writes dir/initrd.img, a gzip-compressed newc cpio archive
// holding a static busybox, FindKernel's virtio-net modules and an /init that
// brings up eth0 with udhcpc, fetches the Ignition config named on the kernel
// command line (ignition.config.url=, else flatcar.config.url=, else
// coreos.config.url=) and prints MarkerIgnitionSHA256 with its sha256, then
// powers the VM off. It returns the path. Failures end the test.
//
// Boot it with console=ttyS0, and with initrd=<name> when the kernel is
// loaded by iPXE under UEFI (without it the kernel finds no initramfs);
// panic=<seconds> makes a broken boot end quickly under -no-reboot.
func BuildInitrd(t testing.TB, dir string) string {
	t.Helper()
	k, err := FindKernel()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "initrd.img")
	if err := WriteInitrd(path, k); err != nil {
		t.Fatal(err)
	}
	return path
}

// WriteInitrd is BuildInitrd for a given kernel, without a testing.TB.
func WriteInitrd(path string, k Kernel) error {
	busybox := k.Busybox
	if busybox == "" {
		var err error
		if busybox, err = Busybox(); err != nil {
			return err
		}
	}
	mods, err := k.ModulesFor(InitrdModules()...)
	if err != nil {
		return err
	}

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriter(f)
	zw := gzip.NewWriter(bw)
	cw := &cpioWriter{w: zw}

	for _, d := range []string{"bin", "dev", "etc", "lib", "lib/modules", "proc", "sys", "tmp", "run", "var", "var/run", "root"} {
		cw.dir(d)
	}
	bb, err := os.ReadFile(busybox)
	if err != nil {
		return err
	}
	cw.file("bin/busybox", 0o755, bb)
	for _, applet := range initrdApplets() {
		cw.symlink("bin/"+applet, "busybox")
	}
	// The kernel opens /dev/console for init's stdio before /init can
	// mount devtmpfs; without the node, init runs with no output at all.
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
	cw.file("etc/udhcpc.script", 0o755, []byte(udhcpcScript))
	cw.file("init", 0o755, initFor(initScript, names))
	cw.trailer()

	if cw.err != nil {
		return fmt.Errorf("write %s: %w", path, cw.err)
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// initrdApplets are the busybox applets /init and udhcpc's script use.
func initrdApplets() []string {
	return []string{
		"sh", "mount", "insmod", "ip", "ifconfig", "route", "udhcpc", "wget", "timeout",
		"sha256sum", "cat", "echo", "sleep", "poweroff", "sync", "cut", "mkdir", "ls", "dmesg",
	}
}

// udhcpcScript configures the lease udhcpc obtained (busybox ships no
// default script in busybox-static).
const udhcpcScript = `#!/bin/sh
case "$1" in
deconfig)
	ip addr flush dev "$interface"
	ip link set "$interface" up
	;;
bound|renew)
	ip addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	for r in $router; do ip route add default via "$r" dev "$interface" && break; done
	echo "PIXIE-E2E-DHCP-BOUND=$ip/${mask:-24} router=$router server=$serverid"
	;;
esac
exit 0
`

// initNetUp is where both test inits start (at @NETUP@): finish and fail,
// the command line as a marker, the NIC modules (@MODULES@) loaded, eth0
// waited for and brought up, and an address from DHCP, or fail.
const initNetUp = `finish() {
	sync
	poweroff -f
	sleep 10
}
fail() {
	echo "PIXIE-E2E: $*"
	echo "PIXIE-E2E-FETCH-FAILED"
	finish
}

echo "PIXIE-E2E-CMDLINE=$(cat /proc/cmdline)"
for m in @MODULES@; do
	insmod /lib/modules/$m.ko || echo "PIXIE-E2E: insmod $m failed"
done
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do
	sleep 0.2
	i=$((i+1))
done
[ -e /sys/class/net/eth0 ] || fail "no eth0 after 10s: $(ls /sys/class/net)"
ip link set lo up
ip link set eth0 up
ok=
for try in 1 2 3; do
	if timeout 30 udhcpc -i eth0 -f -q -n -t 5 -T 2 -s /etc/udhcpc.script; then
		ok=1
		break
	fi
done
[ -n "$ok" ] || fail "DHCP on eth0 failed"
`

// initFor is an init script with the shared start and the modules
// filled in.
func initFor(script string, modules []string) []byte {
	netUp := strings.ReplaceAll(initNetUp, "@MODULES@", strings.Join(modules, " "))
	return []byte(strings.ReplaceAll(script, "@NETUP@", netUp))
}

// initScript is the initrd's /init. Every wait is bounded; it always ends in
// poweroff -f, which under QEMU's -no-reboot ends the VM.
const initScript = `#!/bin/sh
export PATH=/bin
set -f # URLs on the command line may hold glob characters
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# Keep kernel messages off the console from here on so they cannot split
# the marker lines the test looks for (panics still get through).
echo 1 > /proc/sys/kernel/printk
exec </dev/console >/dev/console 2>&1

@NETUP@

url=
for want in ignition.config.url flatcar.config.url coreos.config.url; do
	for arg in $(cat /proc/cmdline); do
		case "$arg" in
		"$want="*) url="${arg#*=}" ;;
		esac
	done
	[ -n "$url" ] && break
done
[ -n "$url" ] || fail "no ignition.config.url, flatcar.config.url or coreos.config.url on the kernel command line"
echo "PIXIE-E2E-IGNITION-URL=$url"

# busybox-static's wget -T crashes here; timeout bounds it instead.
fetched=
for try in 1 2 3; do
	rm -f /tmp/config
	if timeout 30 wget -q -O /tmp/config "$url"; then
		fetched=1
		break
	fi
	sleep 1
done
[ -n "$fetched" ] || fail "fetching $url failed"
sum=$(sha256sum /tmp/config | cut -d' ' -f1)
echo "PIXIE-E2E-IGNITION-SHA256=$sum"
finish
`

// cpioWriter writes a newc ("070701") cpio archive, the format the kernel
// unpacks into its initramfs. The first error sticks in err.
type cpioWriter struct {
	w   io.Writer
	ino int
	err error
}

const (
	modeDir  = 0o040000
	modeFile = 0o100000
	modeLink = 0o120000
	modeChr  = 0o020000
)

func (c *cpioWriter) dir(name string) { c.entry(name, modeDir|0o755, nil, 0, 0) }

func (c *cpioWriter) file(name string, perm int, data []byte) {
	c.entry(name, modeFile|perm, data, 0, 0)
}

func (c *cpioWriter) symlink(name, target string) {
	c.entry(name, modeLink|0o777, []byte(target), 0, 0)
}

func (c *cpioWriter) charDev(name string, perm, major, minor int) {
	c.entry(name, modeChr|perm, nil, major, minor)
}

func (c *cpioWriter) trailer() { c.entry("TRAILER!!!", 0, nil, 0, 0) }

func (c *cpioWriter) entry(name string, mode int, data []byte, rmajor, rminor int) {
	if c.err != nil {
		return
	}
	c.ino++
	nlink := 1
	if mode&0o170000 == modeDir {
		nlink = 2
	}
	// ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rmajor, rminor, len(name)+1, 0)
	// Header and name are padded together to 4 bytes, then the data.
	buf := append([]byte(hdr), name...)
	buf = append(buf, 0)
	buf = append(buf, make([]byte, pad4(len(buf)))...)
	buf = append(buf, data...)
	buf = append(buf, make([]byte, pad4(len(data)))...)
	_, c.err = c.w.Write(buf)
}

func pad4(n int) int { return (4 - n%4) % 4 }
