// Package hwaddr parses Ethernet MAC addresses in the spellings people and
// firmware actually use, and prints them in the one form pixie stores.
package hwaddr

import (
	"fmt"
	"net"
	"strings"
)

// Parse accepts a 48-bit MAC address written as
//
//	90:2b:34:14:f6:6a   colons (any case)
//	90-2B-34-14-F6-6A   hyphens (Windows, iPXE's ${mac:hexhyp})
//	902b.3414.f66a      Cisco dotted groups
//	902b3414f66a        bare hex
//
// and returns it normalized as lower-case colon-separated hex. The error
// says what is wrong with the input so a CLI can show it as is.
func Parse(s string) (string, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return "", fmt.Errorf("empty MAC address: give one like 90:2b:34:14:f6:6a")
	}
	var hex string
	switch {
	case strings.Count(in, ":") == 5 || strings.Count(in, "-") == 5:
		sep := ":"
		if strings.Contains(in, "-") {
			sep = "-"
		}
		parts := strings.Split(in, sep)
		for i, p := range parts {
			if len(p) == 1 { // 0:1b:... as some tools print it
				p = "0" + p
			}
			if len(p) != 2 {
				return "", fmt.Errorf("MAC address %q: group %d (%q) must be two hex digits", s, i+1, parts[i])
			}
			hex += p
		}
	case strings.Count(in, ".") == 2:
		for i, p := range strings.Split(in, ".") {
			if len(p) != 4 {
				return "", fmt.Errorf("MAC address %q: dotted group %d must be four hex digits", s, i+1)
			}
			hex += p
		}
	case len(in) == 12:
		hex = in
	default:
		return "", fmt.Errorf("MAC address %q is not 6 bytes: write it like 90:2b:34:14:f6:6a, 90-2B-34-14-F6-6A or 902b.3414.f66a", s)
	}
	hex = strings.ToLower(hex)
	for i, c := range hex {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", fmt.Errorf("MAC address %q: %q at position %d is not a hex digit", s, c, i+1)
		}
	}
	var b strings.Builder
	for i := 0; i < 12; i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(hex[i : i+2])
	}
	return b.String(), nil
}

// String formats a hardware address the way Parse returns it. Addresses that
// are not 6 bytes long (InfiniBand, malformed packets) are printed as given.
func String(a net.HardwareAddr) string {
	return strings.ToLower(a.String())
}
