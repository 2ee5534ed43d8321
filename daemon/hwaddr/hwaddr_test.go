package hwaddr

import (
	"net"
	"strings"
	"testing"
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
	bad := map[string]string{
		"":                     "empty",
		"90:2b:34:14:f6":       "not 6 bytes",
		"90:2b:34:14:f6:6a:00": "not 6 bytes",
		"90:2b:34:14:f6:zz":    "not a hex digit",
		"902b.3414.f66":        "four hex digits",
		"90:2b:34:14:f6:6aa":   "two hex digits",
		"hello":                "not 6 bytes",
		"90:2b-34:14:f6:6a":    "not 6 bytes",
	}
	for in, frag := range bad {
		_, err := Parse(in)
		if err == nil || !strings.Contains(err.Error(), frag) {
			t.Errorf("Parse(%q) error = %v; want one mentioning %q", in, err, frag)
		}
	}
}

func TestString(t *testing.T) {
	a := net.HardwareAddr{0x90, 0x2B, 0x34, 0x14, 0xF6, 0x6A}
	if got := String(a); got != "90:2b:34:14:f6:6a" {
		t.Errorf("String = %q", got)
	}
}
