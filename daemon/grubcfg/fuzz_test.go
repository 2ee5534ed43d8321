package grubcfg

import (
	"errors"
	"strings"
	"testing"

	"github.com/pixie-boot/pixie/daemon/grubcfg/grubtest"
)

func skeleton(t *testing.T, cfg string) string {
	t.Helper()
	s, err := grubtest.Shape(cfg)
	if err != nil {
		t.Fatalf("%v\n%s", err, cfg)
	}
	return s
}

func FuzzConfig(f *testing.F) {
	f.Add("pixie: booting", "console=ttyS0", "(tftp,10.0.0.2)/k", "it's", "x")
	f.Add("'; reboot; echo '", "$root", "'\\''", "}\nfi\nreboot", "${x}")
	f.Add("a\\", "\\", "'", "\"", "; then boot; fi")
	f.Fuzz(func(t *testing.T, banner, arg, kernel, initrd, failed string) {
		safeBoot := sample()
		safeBoot.Args = append(safeBoot.Args, "x")
		safe, err := Config(safeBoot)
		if err != nil {
			t.Fatal(err)
		}
		want := skeleton(t, safe)

		b := sample()
		b.Banner, b.Failed = banner, failed
		b.Args = append(b.Args, arg)
		b.Kernel, b.Initrds = kernel, []string{initrd}
		got, err := Config(b)
		if err != nil {
			if !errors.Is(err, ErrUnquotable) {
				t.Fatalf("Config error %v is not ErrUnquotable", err)
			}
			return
		}
		if s := skeleton(t, got); s != want {
			t.Fatalf("hostile values changed the commands:\n%s\nwant\n%s\nconfig:\n%s", s, want, got)
		}
		// And the values arrive intact.
		for _, line := range strings.Split(got, "\n") {
			words, _, _ := grubtest.Lex(line)
			if len(words) > 2 && words[1].Text == "linux" {
				last := words[len(words)-2].Text // before "then"
				if last != arg || words[2].Text != kernel {
					t.Fatalf("linux line carries %q / %q, want %q / %q", words[2].Text, last, kernel, arg)
				}
			}
		}

		e := Error([]string{banner, failed}, b.Retry)
		if s := skeleton(t, e); strings.Count(s, "echo Q|") != 3 || !strings.HasSuffix(s, "configfile Q|\n|") {
			t.Fatalf("Error with hostile lines:\n%s\n%s", s, e)
		}
	})
}
