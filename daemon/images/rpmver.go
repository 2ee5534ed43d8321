package images

import (
	"strconv"
	"strings"
)

// evr is an RPM epoch:version-release, as repository metadata gives it.
type evr struct {
	Epoch, Version, Release string
}

func (e evr) String() string {
	s := e.Version + "-" + e.Release
	if e.Epoch != "" && e.Epoch != "0" {
		s = e.Epoch + ":" + s
	}
	return s
}

// compareEVR orders two packages' versions as rpm does: epoch as a
// number, then version, then release with rpmvercmp.
func compareEVR(a, b evr) int {
	ea, _ := strconv.Atoi(a.Epoch)
	eb, _ := strconv.Atoi(b.Epoch)
	switch {
	case ea < eb:
		return -1
	case ea > eb:
		return 1
	}
	if c := rpmvercmp(a.Version, b.Version); c != 0 {
		return c
	}
	return rpmvercmp(a.Release, b.Release)
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// rpmvercmp is rpm's version comparison (lib/rpmvercmp.c): the strings are
// split into runs of digits and of letters, separators ignored; digits
// compare as numbers and beat letters; '~' sorts before anything (even
// the end: 1.0~rc1 < 1.0), '^' after the end but before anything else.
func rpmvercmp(a, b string) int {
	if a == b {
		return 0
	}
	for len(a) > 0 || len(b) > 0 {
		for len(a) > 0 && !isAlnum(a[0]) && a[0] != '~' && a[0] != '^' {
			a = a[1:]
		}
		for len(b) > 0 && !isAlnum(b[0]) && b[0] != '~' && b[0] != '^' {
			b = b[1:]
		}
		// Tilde: the one that has it is older.
		if strings.HasPrefix(a, "~") || strings.HasPrefix(b, "~") {
			if !strings.HasPrefix(a, "~") {
				return 1
			}
			if !strings.HasPrefix(b, "~") {
				return -1
			}
			a, b = a[1:], b[1:]
			continue
		}
		// Caret: newer than the end of the other, older than more of it.
		if strings.HasPrefix(a, "^") || strings.HasPrefix(b, "^") {
			switch {
			case len(a) == 0:
				return -1
			case len(b) == 0:
				return 1
			case !strings.HasPrefix(a, "^"):
				return 1
			case !strings.HasPrefix(b, "^"):
				return -1
			}
			a, b = a[1:], b[1:]
			continue
		}
		if len(a) == 0 || len(b) == 0 {
			break
		}
		numeric := isDigit(a[0])
		run := func(s string) (string, string) {
			i := 0
			for i < len(s) && (numeric && isDigit(s[i]) || !numeric && isAlnum(s[i]) && !isDigit(s[i])) {
				i++
			}
			return s[:i], s[i:]
		}
		var sa, sb string
		sa, a = run(a)
		sb, b = run(b)
		if sb == "" {
			// Different kinds of run: a number is newer than letters.
			if numeric {
				return 1
			}
			return -1
		}
		if numeric {
			sa, sb = strings.TrimLeft(sa, "0"), strings.TrimLeft(sb, "0")
			if len(sa) != len(sb) {
				if len(sa) > len(sb) {
					return 1
				}
				return -1
			}
		}
		if c := strings.Compare(sa, sb); c != 0 {
			return c
		}
	}
	switch {
	case len(a) == 0 && len(b) == 0:
		return 0
	case len(a) == 0:
		return -1
	}
	return 1
}
