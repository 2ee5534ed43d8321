package hwaddr

import (
	"net"
	"regexp"
	"strings"
	"testing"
)

// FuzzParse: Parse never panics on any text (MACs arrive in HTTP queries,
// control-socket paths and CLI arguments), and everything it accepts is a
// real 6-byte address that comes back in the one canonical spelling.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"90:2b:34:14:f6:6a", "90-2B-34-14-F6-6A", "902b.3414.f66a", "902B3414F66A",
		" 90:2b:34:14:f6:6a\n", "0:1b:2:3:4:5", "", "zz", "90:2b:34:14:f6",
		"90:2b-34:14:f6:6a", "90:2b:34:14:f6:6a:00", "::::::", "-----", "..",
		"902b.3414.f66", "9:0:2:b:3:4", "::::: ", "İİİİİİ", "\u212a\u212a\u212a\u212a\u212a\u212a",
		"90:2b:34:14:f6:\x00a", "aa:bb:cc:dd:ee:ff%20", "00:00:00:00:00:00",
		"ff:ff:ff:ff:ff:ff", "90:2b:34:14:f6:6a\u0085", "0x902b3414f6",
	} {
		f.Add(s)
	}
	canonical := regexp.MustCompile(`^[0-9a-f]{2}(:[0-9a-f]{2}){5}$`)
	f.Fuzz(func(t *testing.T, in string) {
		got, err := Parse(in)
		if err != nil {
			if got != "" || err.Error() == "" {
				t.Fatalf("Parse(%q) = %q, %v: a refusal must return nothing and say why", in, got, err)
			}
			return
		}
		if !canonical.MatchString(got) {
			t.Fatalf("Parse(%q) = %q: not canonical", in, got)
		}
		if again, err := Parse(got); err != nil || again != got {
			t.Fatalf("Parse(Parse(%q)) = %q, %v; want %q", in, again, err, got)
		}
		hw, err := net.ParseMAC(got)
		if err != nil || len(hw) != 6 || String(hw) != got {
			t.Fatalf("Parse(%q) = %q, which net.ParseMAC reads as %v, %v", in, got, hw, err)
		}
		// What was accepted is hex digits and one kind of separator, and
		// names the same address: nothing else slips through.
		trimmed := strings.TrimSpace(in)
		if strings.Trim(strings.ToLower(trimmed), "0123456789abcdef:-.") != "" {
			t.Fatalf("Parse(%q) accepted characters other than hex digits and separators", in)
		}
		if digits := strings.NewReplacer(":", "", "-", "", ".", "").Replace(strings.ToLower(trimmed)); len(digits) == 12 && digits != strings.ReplaceAll(got, ":", "") {
			t.Fatalf("Parse(%q) = %q: not the address written", in, got)
		}
	})
}
