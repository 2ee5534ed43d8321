package importer

import (
	"fmt"
	"strings"

	"github.com/pixie-boot/pixie/daemon/api"
)

// Dnsmasq reads a dnsmasq.conf for what pixie needs: the interface and
// address to serve on, whether DHCP runs in proxy mode, and the boot files
// it hands out. It returns the `pixie serve` flags that give the same
// setup, and a note for every other setting: what pixie does itself, or
// what it does not carry over.
func Dnsmasq(conf string) *api.ImportServe {
	out := &api.ImportServe{Flags: []string{}}
	note := func(n int, format string, args ...any) {
		out.Notes = append(out.Notes, fmt.Sprintf("line %d: ", n)+fmt.Sprintf(format, args...))
	}
	proxy, full := false, false
	for i, line := range strings.Split(conf, "\n") {
		n := i + 1
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, _ := strings.Cut(line, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch key {
		case "interface":
			out.Flags = append(out.Flags, "--interface", val)
		case "listen-address":
			if !strings.HasPrefix(val, "127.") {
				out.Flags = append(out.Flags, "--address", val)
			}
		case "dhcp-range":
			if strings.HasSuffix(val, ",proxy") {
				proxy = true
				note(n, "dhcp-range=%s: proxy DHCP beside the network's own DHCP server, which is pixie's default mode", val)
			} else {
				full = true
				note(n, "dhcp-range=%s hands out addresses: that is pixie's full DHCP mode (--dhcp, with its pool set in pixie); use it only on a link with no other DHCP server", val)
			}
		case "port":
			if val == "0" {
				note(n, "port=0 (no DNS): pixie serves no DNS")
			} else {
				note(n, "port=%s: pixie serves no DNS; keep dnsmasq (with DHCP off) or another DNS server for it", val)
			}
		case "enable-tftp", "tftp-root":
			note(n, "%s: pixie serves TFTP itself, from its own iPXE firmware set", key)
		case "dhcp-boot", "pxe-service":
			note(n, "%s: pixie chooses the boot file itself: undionly.kpxe for BIOS, ipxe.efi/snponly.efi for UEFI, its own /boot.ipxe for iPXE%s", key, bootFileNote(val))
		case "dhcp-userclass", "dhcp-match":
			note(n, "%s: pixie tells iPXE from PXE firmware itself (user class iPXE) and never chainloads iPXE in a loop", key)
		case "dhcp-option":
			if strings.Contains(val, "PXEClient,6,") {
				note(n, "dhcp-option PXE discovery control: pixie's proxy offers already disable multicast discovery")
			} else {
				note(n, "dhcp-option=%s: not carried over: pixie sends only the PXE options; set other options on the network's DHCP server", val)
			}
		case "user", "bind-interfaces", "dhcp-leasefile", "log-dhcp", "log-facility", "log-queries", "keep-in-foreground", "no-daemon":
			note(n, "%s: not needed: pixie runs as a service and logs every boot as events (`pixie boots`, `pixie timeline MAC`)", key)
		default:
			note(n, "%s: not carried over: pixie has no setting for it", line)
		}
	}
	if full && !proxy {
		out.Flags = append(out.Flags, "--dhcp")
	}
	return out
}

// bootFileNote names a boot file pixie does not serve under that name.
func bootFileNote(val string) string {
	for _, f := range strings.Split(val, ",") {
		f = strings.Trim(strings.TrimSpace(f), `"`)
		switch {
		case f == "" || strings.HasPrefix(f, "tag:") || f == "x86PC" || strings.Contains(f, " "):
		case strings.HasSuffix(f, "/boot.ipxe"), f == "undionly.kpxe", f == "ipxe.efi", f == "snponly.efi":
		case strings.Contains(f, ".") || strings.Contains(f, "/"):
			return fmt.Sprintf(" (%s is not carried over: pixie serves its own loaders)", f)
		}
	}
	return ""
}
