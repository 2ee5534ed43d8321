// Package grubtest judges GRUB configs the way GRUB's script lexer reads
// them, for tests of code that writes them.
//
// It models the parts of the lexer (grub-core/script/yylex.l, as GRUB's
// manual documents the grammar) that decide what a line means: outside
// quotes, backslash escapes the next byte, '$' starts a variable, ';' '&'
// '|' '<' '>' '{' '}' and newline are operators and, with the regexp
// module, '*' '?' '[' are wildcards; inside single quotes everything up to
// the next single quote is literal. pixie never writes double quotes, so
// a line with one outside single quotes is reported as unreadable.
package grubtest

import (
	"fmt"
	"strings"
)

// Word is one word of a line.
type Word struct {
	Text   string
	Quoted bool // some of it came from quotes or escapes
}

// Lex splits one line into words and returns the unquoted special bytes
// it met. It fails on an unterminated quote, a trailing backslash and on
// double quotes.
func Lex(line string) (words []Word, specials string, err error) {
	var cur strings.Builder
	var quoted, in bool
	flush := func() {
		if in {
			words = append(words, Word{cur.String(), quoted})
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
				return nil, "", fmt.Errorf("unterminated single quote in %q", line)
			}
			cur.WriteString(line[i+1 : i+1+j])
			quoted, in = true, true
			i += j + 1
		case c == '\\':
			if i+1 >= len(line) {
				return nil, "", fmt.Errorf("trailing backslash in %q", line)
			}
			cur.WriteByte(line[i+1])
			quoted, in = true, true
			i++
		case c == '"':
			return nil, "", fmt.Errorf("double quote in %q", line)
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
	return words, specials, nil
}

// Shape is what GRUB runs: per line, the unquoted words with every quoted
// word replaced by Q, and the operators met. Values put into a config
// must leave its shape as it was with harmless values.
func Shape(cfg string) (string, error) {
	var out []string
	for i, line := range strings.Split(cfg, "\n") {
		if strings.HasPrefix(line, "#") {
			out = append(out, "#")
			continue
		}
		words, sp, err := Lex(line)
		if err != nil {
			return "", fmt.Errorf("line %d: %w", i+1, err)
		}
		var ws []string
		for _, w := range words {
			if w.Quoted {
				ws = append(ws, "Q")
			} else {
				ws = append(ws, w.Text)
			}
		}
		out = append(out, strings.Join(ws, " ")+"|"+sp)
	}
	return strings.Join(out, "\n"), nil
}
