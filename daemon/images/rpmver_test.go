package images

import "testing"

func TestRPMVerCmp(t *testing.T) {
	// Cases from rpm's own test suite (tests/rpmvercmp.at).
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"1.0", "1.0", 0}, {"1.0", "2.0", -1}, {"2.0", "1.0", 1},
		{"2.0.1", "2.0.1", 0}, {"2.0", "2.0.1", -1}, {"2.0.1a", "2.0.1", 1},
		{"5.5p1", "5.5p2", -1}, {"5.5p10", "5.5p1", 1}, {"10xyz", "10.1xyz", -1},
		{"xyz10", "xyz10.1", -1}, {"xyz.4", "8", -1}, {"8", "xyz.4", 1},
		{"1.0aa", "1.0a", 1}, {"2.0.0", "2.0", 1}, {"1.0~rc1", "1.0", -1},
		{"1.0~rc1", "1.0~rc2", -1}, {"1.0~rc1~git123", "1.0~rc1", -1},
		{"1.0^", "1.0", 1}, {"1.0^git1", "1.0", 1}, {"1.0^git1", "1.01", -1},
		{"1.0^20160101", "1.0.1", -1}, {"1.0^git1~pre", "1.0^git1", -1},
		{"001", "1", 0}, {"1.002", "1.2", 0}, {"15.8", "15.10", -1},
		{"3.fc43", "3.fc43", 0}, {"120.fc43", "99.fc43", 1},
	} {
		if got := rpmvercmp(tc.a, tc.b); got != tc.want {
			t.Errorf("rpmvercmp(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := rpmvercmp(tc.b, tc.a); got != -tc.want {
			t.Errorf("rpmvercmp(%q, %q) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
	if compareEVR(evr{"1", "2.06", "1"}, evr{"", "2.12", "9"}) != 1 {
		t.Error("the epoch must win over the version")
	}
}
