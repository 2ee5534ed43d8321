package store

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestProfileIgnitionSpec: a profile's Ignition spec is spelled the way
// Ignition spells it, round-trips, and a config that needs a newer spec
// than the profile's OS reads is refused when it is stored, not when a
// machine boots.
func TestProfileIgnitionSpec(t *testing.T) { forEachBackend(t, testProfileIgnitionSpec) }

func testProfileIgnitionSpec(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	base := Profile{Name: "deb", OS: "generic", Kernel: "k"}

	for _, tc := range []struct {
		name, spec, config string
		want, err          string
	}{
		{"short spelling", "3.3", `{"ignition":{"version":"3.4.0"}}`, "3.3.0", ""},
		{"none", "", `{"ignition":{"version":"3.5.0"}}`, "", ""},
		{"not a version", "three", "", "", "give a stable 3.x version"},
		{"newer than pixie", "3.6.0", "", "", "from 3.0.0 to 3.5.0"},
		{"needs 3.3 for kernel arguments", "3.2.0", `{"ignition":{"version":"3.3.0"},"kernelArguments":{"shouldExist":["quiet"]}}`, "", "kernelArguments.shouldExist.0 is not in spec 3.2.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := base
			p.IgnitionSpec, p.Ignition = tc.spec, tc.config
			_, err := s.CreateProfile(ctx, p)
			if tc.err != "" {
				if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("CreateProfile with spec %q: %v; want ErrInvalid saying %q", tc.spec, err, tc.err)
				}
				if _, err := s.Profile(ctx, p.Name); !errors.Is(err, ErrNotFound) {
					t.Errorf("the refused profile was stored: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.DeleteProfile(ctx, p.Name)
			got, err := s.Profile(ctx, p.Name)
			if err != nil || got.IgnitionSpec != tc.want {
				t.Fatalf("stored spec %q (%v), want %q", got.IgnitionSpec, err, tc.want)
			}
			got.IgnitionSpec = "3.0"
			got.Ignition = ""
			if up, err := s.UpdateProfile(ctx, got); err != nil || up.IgnitionSpec != "3.0.0" {
				t.Errorf("update to 3.0: %q, %v", up.IgnitionSpec, err)
			}
		})
	}
}
