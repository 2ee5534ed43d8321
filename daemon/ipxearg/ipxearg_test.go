package ipxearg

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		args string
		want string // "" accepted, else a part of the error
	}{
		{"", ""},
		{"console=ttyS0 ignition.config.url=http://x/ignition?mac=1&token=2", ""},
		{"ip=${net0/ip} hostname=${hostname}", ""},
		{"a=b||c x&&y a;b a#b", ""}, // not whole words: passed to the kernel
		{"a\tb\vc\fd", ""},          // whitespace separates words
		{"a || b", `"||" would be read by iPXE as script syntax`},
		{"a && b", `"&&" would be read`},
		{"a ; b", `";" would be read`},
		{"a #", `"#" would be read`},
		{"a #b c", `"#b" would be read`},
		{"a\t||", `"||" would be read`},
		{"a\x00", "control byte 0x00"},
		{"\x1b[2J", "control byte 0x1b"},
		{"a\x7f", "control byte 0x7f"},
	} {
		err := Check(tc.args)
		if tc.want == "" {
			if err != nil {
				t.Errorf("Check(%q) = %v, want nil", tc.args, err)
			}
			continue
		}
		var e *Error
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &e) {
			t.Errorf("Check(%q) = %v, want an *Error containing %q", tc.args, err, tc.want)
		}
	}
}

func TestCheckTemplate(t *testing.T) {
	for _, tc := range []struct {
		tmpl string
		want string // "" accepted, else a part of Explain()
	}{
		// What profiles legitimately hold.
		{"console=tty0 console=ttyS0 ignition.firstboot ignition.platform.id=metal ignition.config.url={{.IgnitionURL}}", ""},
		{"flatcar.first_boot=1 ignition.config.url={{.IgnitionURL}} hostname={{.Hostname}}", ""},
		{"ip=${net0/ip}::${net0/gateway}:${net0/netmask} {{if .Vars.debug}} debug{{else}} quiet{{end}}", ""},
		{"x={{json .Vars.x}} {{range $k, $v := .Vars}}{{$k}}={{$v}} {{end}}", ""},
		{"{{/* a comment with || and # */}}a=b", ""},
		{"a={{.Vars.x}}||{{.Vars.y}}", ""},  // only known at boot
		{"a={{.Vars.x}} &&{{.Vars.y}}", ""}, // "&&" touches an action: boot decides
		{"a=b||c x&&y z;w v#w", ""},         // not whole words
		{"{{if .Vars.a}}x{{end}}#y", ""},    // "#y" follows the if's output

		// Refused.
		{"console=ttyS0 || shell", "the word \"||\", which iPXE would run as a command separator"},
		{"console=ttyS0 && shell", "\"&&\""},
		{"console=ttyS0 ; shell", "\";\""},
		{"console=ttyS0 # debug", "starting with '#' as a comment"},
		{"console=ttyS0 #debug ignition.config.url={{.IgnitionURL}}", "\"#debug\""},
		{"#{{.Vars.x}} a", "\"#{{...}}\""},
		{"{{if .Vars.debug}} || shell{{end}}", "\"||\""},
		{"{{if .Vars.debug}}a{{else}} ; b{{end}}", "\";\""},
		{"{{define \"t\"}} && x{{end}}{{template \"t\"}}", "\"&&\""},
		{"a=b\x07", "control byte 0x07"},
		{"||", "\"||\""},
	} {
		err := CheckTemplate(tc.tmpl)
		if tc.want == "" {
			if err != nil {
				t.Errorf("CheckTemplate(%q) = %v, want nil", tc.tmpl, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || !strings.Contains(e.Explain(), tc.want) {
			t.Errorf("CheckTemplate(%q) = %v, want an *Error explaining %q", tc.tmpl, err, tc.want)
			continue
		}
		if !strings.Contains(e.Explain(), "remove it") {
			t.Errorf("CheckTemplate(%q): %q does not say what to do", tc.tmpl, e.Explain())
		}
	}
	// A template that does not parse is the caller's to report.
	if err := CheckTemplate("a={{.X"); err != nil {
		t.Errorf("unparsable template: %v, want nil", err)
	}
}
