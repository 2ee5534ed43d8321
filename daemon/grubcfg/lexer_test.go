package grubcfg

import (
	"testing"

	"github.com/pixie-boot/pixie/daemon/grubcfg/grubtest"
)

func TestLexerModel(t *testing.T) {
	words, sp, err := grubtest.Lex(`linux 'a b' 'it'\''s' x; then`)
	want := []string{"linux", "a b", "it's", "x", "then"}
	if err != nil || sp != ";" || len(words) != len(want) {
		t.Fatalf("Lex = %v %q %v", words, sp, err)
	}
	for i, w := range want {
		if words[i].Text != w {
			t.Errorf("word %d = %q, want %q", i, words[i].Text, w)
		}
	}
	for _, bad := range []string{`echo 'open`, `echo "x"`, `echo \`} {
		if _, _, err := grubtest.Lex(bad); err == nil {
			t.Errorf("Lex(%q) accepted", bad)
		}
	}
}
