package ignition

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// A machine's reserved address in proxy mode, where pixie cannot hand it
// out: it goes into the boot instead, as kernel arguments the OS's initrd
// understands (so the Ignition fetch already uses it) and as the OS's own
// network file in its Ignition config (so the installed system keeps it).

// Static is a reserved address with what goes with it.
type Static struct {
	MAC      string // the machine's NIC, aa:bb:cc:dd:ee:ff
	Addr     netip.Prefix
	Gateway  netip.Addr // invalid: none
	DNS      []netip.Addr
	Hostname string
}

// ParseStatic reads a machine's reservation fields: ip "ADDR[/PREFIX]"
// (no prefix: defPrefix), gateway and DNS servers.
func ParseStatic(mac, ip, gateway string, dns []string, hostname string, defPrefix int) (Static, error) {
	s := Static{MAC: strings.ToLower(mac), Hostname: hostname}
	if p, err := netip.ParsePrefix(ip); err == nil {
		s.Addr = p
	} else if a, err := netip.ParseAddr(ip); err == nil {
		s.Addr = netip.PrefixFrom(a, defPrefix)
	} else {
		return s, fmt.Errorf("reserved address %q is not ADDR or ADDR/PREFIX", ip)
	}
	if !s.Addr.Addr().Is4() {
		return s, fmt.Errorf("reserved address %q is not IPv4", ip)
	}
	if gateway != "" {
		g, err := netip.ParseAddr(gateway)
		if err != nil {
			return s, fmt.Errorf("gateway %q is not an address", gateway)
		}
		s.Gateway = g
	}
	for _, d := range dns {
		a, err := netip.ParseAddr(d)
		if err != nil {
			return s, fmt.Errorf("DNS server %q is not an address", d)
		}
		s.DNS = append(s.DNS, a)
	}
	return s, nil
}

func (s Static) mask() string {
	b := s.Addr.Bits()
	m := uint32(0xffffffff) << (32 - b)
	if b == 0 {
		m = 0
	}
	return fmt.Sprintf("%d.%d.%d.%d", m>>24, m>>16&0xff, m>>8&0xff, m&0xff)
}

// KernelArgs are the kernel arguments that configure the address in the
// initrd: dracut's ip=<client>::<gateway>:<netmask>:<hostname>:<iface>:none
// and nameserver=, which Fedora CoreOS's dracut (NetworkManager) reads and,
// on the first boot, carries into the installed system; Flatcar's initrd
// reads the same through systemd-network-generator. The interface is left
// empty (any), since pixie knows the machine's MAC, not its NIC's name.
func (s Static) KernelArgs() string {
	gw := ""
	if s.Gateway.IsValid() {
		gw = s.Gateway.String()
	}
	host := ""
	if hostnameOK(s.Hostname) {
		host = s.Hostname
	}
	args := []string{fmt.Sprintf("ip=%s::%s:%s:%s::none", s.Addr.Addr(), gw, s.mask(), host)}
	for _, d := range s.DNS {
		args = append(args, "nameserver="+d.String())
	}
	return strings.Join(args, " ")
}

// hostnameOK keeps a hostname out of ip= unless it is plain (the field
// is colon-separated).
func hostnameOK(h string) bool {
	if h == "" || len(h) > 63 {
		return false
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// File is the network file that keeps the address on the installed system
// for an OS kind: a NetworkManager keyfile for Fedora CoreOS, a
// systemd-networkd unit for Flatcar (and Container Linux); none for other
// kinds, whose network setup pixie does not know.
func (s Static) File(os string) (path string, mode int, contents string, ok bool) {
	var b strings.Builder
	switch os {
	case "fedora-coreos":
		// Bound to the MAC, so the NIC's name does not matter.
		fmt.Fprintf(&b, "[connection]\nid=pixie-reserved\ntype=ethernet\nautoconnect-priority=100\n\n[ethernet]\nmac-address=%s\n\n[ipv4]\nmethod=manual\naddress1=%s", s.MAC, s.Addr)
		if s.Gateway.IsValid() {
			fmt.Fprintf(&b, ",%s", s.Gateway)
		}
		b.WriteString("\n")
		if len(s.DNS) > 0 {
			b.WriteString("dns=")
			for _, d := range s.DNS {
				b.WriteString(d.String() + ";")
			}
			b.WriteString("\n")
		}
		b.WriteString("\n[ipv6]\nmethod=auto\n")
		return "/etc/NetworkManager/system-connections/pixie-reserved.nmconnection", 0o600, b.String(), true
	case "flatcar", "container-linux":
		// 00- sorts before Flatcar's catch-all DHCP unit (zz-default.network).
		fmt.Fprintf(&b, "[Match]\nMACAddress=%s\n\n[Network]\nAddress=%s\n", s.MAC, s.Addr)
		if s.Gateway.IsValid() {
			fmt.Fprintf(&b, "Gateway=%s\n", s.Gateway)
		}
		for _, d := range s.DNS {
			fmt.Fprintf(&b, "DNS=%s\n", d)
		}
		return "/etc/systemd/network/00-pixie-reserved.network", 0o644, b.String(), true
	}
	return "", 0, "", false
}

// AddStaticFile adds the reservation's network file for os to a rendered
// Ignition 3.x config and validates the result. A config of another OS
// kind, or a legacy (spec 1/2) one, comes back unchanged. A file the
// config already writes at that path is left as the config says.
func AddStaticFile(config []byte, os string, s Static) ([]byte, error) {
	path, mode, contents, ok := s.File(os)
	if !ok {
		return config, nil
	}
	var doc map[string]any
	if err := json.Unmarshal(config, &doc); err != nil {
		return nil, fmt.Errorf("adding the reserved address's network file: %w", err)
	}
	ign, _ := doc["ignition"].(map[string]any)
	if v, _ := ign["version"].(string); !strings.HasPrefix(v, "3.") {
		return config, nil
	}
	storage, _ := doc["storage"].(map[string]any)
	if storage == nil {
		storage = map[string]any{}
		doc["storage"] = storage
	}
	files, _ := storage["files"].([]any)
	for _, f := range files {
		if m, ok := f.(map[string]any); ok && m["path"] == path {
			return config, nil
		}
	}
	storage["files"] = append(files, map[string]any{
		"path":      path,
		"mode":      mode,
		"overwrite": true,
		"contents":  map[string]any{"source": "data:," + dataEscape(contents)},
	})
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	if _, err := finish(FormatIgnition, out, os); err != nil {
		return nil, errors.Join(errors.New("the config with the reserved address's network file is not valid"), err)
	}
	return out, nil
}

// dataEscape percent-encodes a data: URL's payload (RFC 2397).
func dataEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
