// Package hwaddr parses Ethernet MAC addresses in the spellings people and
// firmware actually use, and prints them in the one form pixie stores.
package hwaddr

import (
	"fmt"
	"net"
	"strings"
)

// Spellings lists the forms Parse accepts, for messages.
const Spellings = "90:2b:34:14:f6:6a, 90-2B-34-14-F6-6A, 902b.3414.f66a or 902b3414f66a"

// Problem says what is wrong with text that is not a MAC address.
type Problem int

const (
	Empty     Problem = iota + 1
	NotMAC            // not hex digits and separators at all ("zz:zz", "node1")
	Length            // hex, but not 6 bytes of it
	BadGroup          // the shape of a MAC address with a group that is not hex
	MixedSeps         // hex with ':' and '-' (or '.') mixed
)

// Error is Parse's refusal. Its message starts with "MAC address" so that a
// caller can prefix "invalid "; Detail is the part after the quoted input.
type Error struct {
	Input   string
	Problem Problem
	Detail  string
}

func (e *Error) Error() string {
	if e.Problem == Empty {
		return "empty MAC address; write it like " + Spellings
	}
	return fmt.Sprintf("MAC address %q %s; write it like %s", e.Input, e.Detail, Spellings)
}

// Parse accepts a 48-bit MAC address written as
//
//	90:2b:34:14:f6:6a   colons (any case)
//	90-2B-34-14-F6-6A   hyphens (Windows, iPXE's ${mac:hexhyp})
//	902b.3414.f66a      Cisco dotted groups
//	902b3414f66a        bare hex
//
// and returns it normalized as lower-case colon-separated hex. A refusal is
// an *Error that says what is wrong with the input.
func Parse(s string) (string, error) {
	in := strings.TrimSpace(s)
	fail := func(p Problem, format string, args ...any) (string, error) {
		return "", &Error{Input: s, Problem: p, Detail: fmt.Sprintf(format, args...)}
	}
	if in == "" {
		return fail(Empty, "")
	}
	digits := strings.NewReplacer(":", "", "-", "", ".", "").Replace(in)
	if !strings.ContainsAny(strings.ToLower(digits), "0123456789abcdef") {
		// Not one hex digit ("zz:zz:zz:zz:zz:zz", a hostname): not a
		// typo in a MAC address but something else.
		return fail(NotMAC, "is not a MAC address (6 bytes of hex digits)")
	}
	var hex string
	switch {
	case strings.Count(in, ":") == 5 && !strings.ContainsAny(in, "-.") || strings.Count(in, "-") == 5 && !strings.ContainsAny(in, ":."):
		sep := ":"
		if strings.Contains(in, "-") {
			sep = "-"
		}
		parts := strings.Split(in, sep)
		for i, p := range parts {
			if len(p) == 1 { // 0:1b:... as some tools print it
				p = "0" + p
			}
			if len(p) != 2 || !isHex(p) {
				return fail(BadGroup, "has %q as group %d: each group is two hex digits (0-9, a-f)", parts[i], i+1)
			}
			hex += p
		}
	case strings.Count(in, ".") == 2 && !strings.ContainsAny(in, ":-"):
		for i, p := range strings.Split(in, ".") {
			if len(p) != 4 || !isHex(p) {
				return fail(BadGroup, "has %q as dotted group %d: each dotted group is four hex digits (0-9, a-f)", p, i+1)
			}
			hex += p
		}
	case len(in) == 12 && isHex(in):
		hex = in
	default:
		if !isHex(digits) {
			return fail(NotMAC, "is not a MAC address (6 bytes of hex digits)")
		}
		seps := 0
		for _, sep := range []string{":", "-", "."} {
			if strings.Contains(in, sep) {
				seps++
			}
		}
		if seps > 1 {
			return fail(MixedSeps, "mixes separators: use one of ':', '-' or '.'")
		}
		if len(digits)%2 == 1 {
			return fail(Length, "is not 6 bytes: it has %d hex digits, a MAC address has 12", len(digits))
		}
		return fail(Length, "is not 6 bytes: it has %d, a MAC address has 6", len(digits)/2)
	}
	hex = strings.ToLower(hex)
	var b strings.Builder
	for i := 0; i < 12; i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(hex[i : i+2])
	}
	return b.String(), nil
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return s != ""
}

// String formats a hardware address the way Parse returns it. Addresses that
// are not 6 bytes long (InfiniBand, malformed packets) are printed as given.
func String(a net.HardwareAddr) string {
	return strings.ToLower(a.String())
}
