package grubcfg

import (
	"strings"
	"testing"
)

// A model of the parts of GRUB's script lexer (grub-core/script/yylex.l)
// that decide what a line means: outside quotes, backslash escapes the
// next byte, '$' starts a variable, ';' '&' '|' '<' '>' '{' '}' and
// newline are operators; inside single quotes everything up to the next
// single quote is literal; inside double quotes '$' and backslash still
// act. It is written from GRUB's documented grammar, not its code.

type word struct {
	text   string
	quoted bool // some of it came from quotes or escapes
}

// lexLine splits one line into words and reports the unquoted special
// bytes it met (ok=false if the line leaves a quote open).
func lexLine(line string) (words []word, specials string, ok bool) {
	var cur strings.Builder
	var quoted, in bool
	flush := func() {
		if in {
			words = append(words, word{cur.String(), quoted})
		}
		cur.Reset()
		quoted, in = false, false
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, "", false
			}
			cur.WriteString(line[i+1 : i+1+j])
			quoted, in = true, true
			i += j + 1
		case c == '\\':
			if i+1 >= len(line) {
				return nil, "", false
			}
			cur.WriteByte(line[i+1])
			quoted, in = true, true
			i++
		case c == '"':
			return nil, "", false // pixie never writes double quotes
		case c == ' ' || c == '\t':
			flush()
		case strings.IndexByte(";&|<>{}$*?[", c) >= 0:
			specials += string(c)
			flush()
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	flush()
	return words, specials, true
}

func TestLexerModel(t *testing.T) {
	words, sp, ok := lexLine(`linux 'a b' 'it'\''s' x; then`)
	want := []string{"linux", "a b", "it's", "x", "then"}
	if !ok || sp != ";" || len(words) != len(want) {
		t.Fatalf("lexLine = %v %q %v", words, sp, ok)
	}
	for i, w := range want {
		if words[i].text != w {
			t.Errorf("word %d = %q, want %q", i, words[i].text, w)
		}
	}
}
