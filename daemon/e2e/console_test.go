package e2e

import (
	"strings"
	"testing"
)

func TestConsoleFilter(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain\r\nlines\r\n", "plain\nlines\n"},
		{"\x1b[2J\x1b[01;01H>>Start PXE\r\n", ">>Start PXE\n"},
		{"\x1b[0m\x1b[37m\x1b[40mtext\x1b[05;01Hnext", "text\nnext"},
		{"Press Ctrl-B...\r      \rnet0: up\r\n", "Press Ctrl-B...\n      \nnet0: up\n"},
		{"a\x1b(Bb\x07c\x00", "abc"},
	}
	for _, tt := range tests {
		if got := cleanConsole(tt.in); got != tt.want {
			t.Errorf("cleanConsole(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// State carries across writes: a sequence or CRLF split between two.
	var b strings.Builder
	f := &consoleFilter{w: &b}
	for _, part := range []string{"one\r", "\ntwo\x1b[", "1;1Hthree\r", "four"} {
		f.Write([]byte(part))
	}
	if got, want := b.String(), "one\ntwo\nthree\nfour"; got != want {
		t.Errorf("split writes: %q, want %q", got, want)
	}
	var pb strings.Builder
	pw := &prefixWriter{w: &pb, prefix: "| "}
	pw.Write([]byte("a\nb"))
	pw.Write([]byte("c\n"))
	if got, want := pb.String(), "| a\n| bc\n"; got != want {
		t.Errorf("prefixWriter: %q, want %q", got, want)
	}
}
