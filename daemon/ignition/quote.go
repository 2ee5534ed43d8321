package ignition

import (
	"encoding/json"
	"fmt"
	"strings"
)

// quoteJSON is the templates' json function: v as JSON, with the
// characters a YAML double-quoted scalar cannot hold as they are written
// as \uXXXX escapes, which JSON and YAML read alike. Those are DEL, the C1
// controls (YAML refuses them, and reads U+0085 as a line break that it
// folds into a space) and the non-characters U+FFFE and U+FFFF. json.Marshal
// leaves them raw, so without this {{json .Hostname}} would break a Butane
// config or change the value. They can only occur inside JSON strings:
// everything outside is ASCII.
func quoteJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	s := string(b)
	if !strings.ContainsFunc(s, yamlUnprintable) {
		return s, nil
	}
	var out strings.Builder
	for _, r := range s { // json.Marshal writes valid UTF-8
		if yamlUnprintable(r) {
			fmt.Fprintf(&out, `\u%04x`, r)
			continue
		}
		out.WriteRune(r)
	}
	return out.String(), nil
}

// yamlUnprintable reports whether YAML 1.2 forbids r unescaped (c-printable)
// among the characters json.Marshal leaves raw.
func yamlUnprintable(r rune) bool {
	return r == 0x7f || r >= 0x80 && r <= 0x9f || r == 0xfffe || r == 0xffff
}
