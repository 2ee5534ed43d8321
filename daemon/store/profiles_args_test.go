package store

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestProfileArgsRefuseIPXESyntax: kernel arguments iPXE would read as
// script are refused when the profile is saved, naming the offending word
// and what to do, not only when a machine boots.
func TestProfileArgsRefuseIPXESyntax(t *testing.T) {
	forEachBackend(t, testProfileArgsRefuseIPXESyntax)
}

func testProfileArgsRefuseIPXESyntax(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	def, err := s.DefaultProfile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args string
		want string // "" accepted, else parts of the message
	}{
		{def.Args, ""}, // the seeded first-time profile
		{"flatcar.first_boot=1 ignition.config.url={{.IgnitionURL}}", ""},
		{"console=ttyS0 ip=${net0/ip}::${net0/gateway}:${net0/netmask}:${hostname}:eth0:none hostname={{.Hostname}}", ""},
		{"x={{json .Vars.x}} {{if .Vars.debug}}debug{{else}}quiet{{end}} {{range $k, $v := .Vars}}{{$k}}={{$v}} {{end}}", ""},
		{"a=b||c x&&y z;w v#w", ""}, // not whole words: the kernel gets them
		{"{{/* || and # in a comment */}}console=ttyS0", ""},
		{"console=ttyS0 || shell", `kernel arguments contain the word "||", which iPXE would run as a command separator`},
		{"console=ttyS0 && reboot", `"&&"`},
		{"console=ttyS0 ; reboot", `";"`},
		{"console=ttyS0 #debug ignition.config.url={{.IgnitionURL}}", `"#debug"`},
		{"console=ttyS0 # the rest", `as a comment`},
		{"{{if .Vars.debug}} || shell{{end}}", `"||"`},
		{"console=ttyS0\x1b[2J", "control byte 0x1b"},
	} {
		p := Profile{Name: "p", Kernel: "k", Args: tc.args}
		_, err := s.CreateProfile(ctx, p)
		if tc.want == "" {
			if err != nil {
				t.Errorf("args %q refused: %v", tc.args, err)
			}
			s.DeleteProfile(ctx, "p")
			continue
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "remove it") {
			t.Errorf("args %q: %v, want ErrInvalid saying %q and what to do", tc.args, err, tc.want)
		}
		// An update is held to the same rule.
		if _, err := s.CreateProfile(ctx, Profile{Name: "ok", Kernel: "k", Args: "console=ttyS0"}); err != nil {
			t.Fatal(err)
		}
		p.Name = "ok"
		if _, err := s.UpdateProfile(ctx, p); !errors.Is(err, ErrInvalid) {
			t.Errorf("update to args %q: %v, want ErrInvalid", tc.args, err)
		}
		if err := s.DeleteProfile(ctx, "ok"); err != nil {
			t.Fatal(err)
		}
	}
}
