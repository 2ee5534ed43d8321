package grubcfg

import (
	"errors"
	"strings"
	"testing"
)

// skeleton replaces every quoted word of a config by Q: what is left is
// what GRUB runs as commands. Hostile values must leave it unchanged.
func skeleton(t *testing.T, cfg string) string {
	t.Helper()
	var out []string
	for i, line := range strings.Split(cfg, "\n") {
		if strings.HasPrefix(line, "#") {
			out = append(out, "#")
			continue
		}
		words, sp, ok := lexLine(line)
		if !ok {
			t.Fatalf("line %d leaves a quote open or uses double quotes: %q", i+1, line)
		}
		var ws []string
		for _, w := range words {
			if w.quoted {
				ws = append(ws, "Q")
			} else {
				ws = append(ws, w.text)
			}
		}
		out = append(out, strings.Join(ws, " ")+"|"+sp)
	}
	return strings.Join(out, "\n")
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
			words, _, _ := lexLine(line)
			if len(words) > 1 && words[0].text == "linux" {
				last := words[len(words)-1].text
				if last != arg || words[1].text != kernel {
					t.Fatalf("linux line carries %q / %q, want %q / %q", words[1].text, last, kernel, arg)
				}
			}
		}

		e := Error([]string{banner, failed}, b.Retry)
		if s := skeleton(t, e); strings.Count(s, "echo Q|") != 3 || !strings.HasSuffix(s, "configfile Q|\n|") {
			t.Fatalf("Error with hostile lines:\n%s\n%s", s, e)
		}
	})
}
