package hwaddr

import (
	"errors"
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	const want = "90:2b:34:14:f6:6a"
	good := []string{
		"90:2b:34:14:f6:6a",
		"90:2B:34:14:F6:6A",
		"90-2b-34-14-f6-6a",
		"90-2B-34-14-F6-6A",
		"902b.3414.f66a",
		"902B3414F66A",
		"  90:2b:34:14:f6:6a\n",
	}
	for _, in := range good {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if got, err := Parse("0:1b:2:3:4:5"); err != nil || got != "00:1b:02:03:04:05" {
		t.Errorf("short groups: got %q, %v", got, err)
	}
	const spell = "; write it like " + Spellings
	bad := []struct {
		in      string
		problem Problem
		msg     string
	}{
		{"", Empty, "empty MAC address" + spell},
		{"zz:zz", NotMAC, `MAC address "zz:zz" is not a MAC address (6 bytes of hex digits)` + spell},
		{"node1", NotMAC, `MAC address "node1" is not a MAC address (6 bytes of hex digits)` + spell},
		{"0x902b3414f6", NotMAC, `MAC address "0x902b3414f6" is not a MAC address (6 bytes of hex digits)` + spell},
		{"zz:zz:zz:zz:zz:zz", NotMAC, `MAC address "zz:zz:zz:zz:zz:zz" is not a MAC address (6 bytes of hex digits)` + spell},
		{"::::::", NotMAC, `MAC address "::::::" is not a MAC address (6 bytes of hex digits)` + spell},
		{"1234", Length, `MAC address "1234" is not 6 bytes: it has 2, a MAC address has 6` + spell},
		{"90:2b:34:14:f6", Length, `MAC address "90:2b:34:14:f6" is not 6 bytes: it has 5, a MAC address has 6` + spell},
		{"90:2b:34:14:f6:6a:00", Length, `MAC address "90:2b:34:14:f6:6a:00" is not 6 bytes: it has 7, a MAC address has 6` + spell},
		{"902b3414f66", Length, `MAC address "902b3414f66" is not 6 bytes: it has 11 hex digits, a MAC address has 12` + spell},
		{"90:2b:34:14:f6:zz", BadGroup, `MAC address "90:2b:34:14:f6:zz" has "zz" as group 6: each group is two hex digits (0-9, a-f)` + spell},
		{"90:2b:34:14:f6:6aa", BadGroup, `MAC address "90:2b:34:14:f6:6aa" has "6aa" as group 6: each group is two hex digits (0-9, a-f)` + spell},
		{"902b.3414.f66", BadGroup, `MAC address "902b.3414.f66" has "f66" as dotted group 3: each dotted group is four hex digits (0-9, a-f)` + spell},
		{"90:2b-34:14:f6:6a", MixedSeps, `MAC address "90:2b-34:14:f6:6a" mixes separators: use one of ':', '-' or '.'` + spell},
	}
	for _, tc := range bad {
		got, err := Parse(tc.in)
		var e *Error
		if got != "" || !errors.As(err, &e) {
			t.Errorf("Parse(%q) = %q, %v; want an *Error", tc.in, got, err)
			continue
		}
		if e.Problem != tc.problem || e.Input != tc.in {
			t.Errorf("Parse(%q): problem %d, input %q; want %d, %q", tc.in, e.Problem, e.Input, tc.problem, tc.in)
		}
		if diff := cmp.Diff(tc.msg, err.Error()); diff != "" {
			t.Errorf("Parse(%q) message (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestString(t *testing.T) {
	a := net.HardwareAddr{0x90, 0x2B, 0x34, 0x14, 0xF6, 0x6A}
	if got := String(a); got != "90:2b:34:14:f6:6a" {
		t.Errorf("String = %q", got)
	}
}
