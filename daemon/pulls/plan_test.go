package pulls

import (
	"errors"
	"strings"
	"testing"

	"github.com/pixie-boot/pixie/daemon/api"
)

// plan decides, before anything is fetched, which image a request names
// and refuses what cannot be pulled as given, saying what to give instead.
func TestPlan(t *testing.T) {
	for _, tt := range []struct {
		name    string
		req     api.PullRequest
		key     string
		wantErr string
	}{
		{"fcos defaults", api.PullRequest{OS: "fedora-coreos"}, "fedora-coreos/stable/x86_64", ""},
		{"fcos arm64 alias", api.PullRequest{OS: "fedora-coreos", Stream: "next", Arch: "arm64"}, "fedora-coreos/next/aarch64", ""},
		{"fcos loaders mirror", api.PullRequest{OS: "fedora-coreos", FedoraMirror: "http://mirror.lan/fedora"}, "fedora-coreos/stable/x86_64", ""},
		{"fcos no loaders", api.PullRequest{OS: "fedora-coreos", NoLoaders: true}, "fedora-coreos/stable/x86_64", ""},
		{"flatcar release", api.PullRequest{OS: "flatcar", Stream: "lts", Version: "4081.2.0"}, "flatcar/lts/x86_64/4081.2.0", ""},
		{"fcos bad stream", api.PullRequest{OS: "fedora-coreos", Stream: "beta"}, "", "use stable, testing or next"},
		{"fcos version", api.PullRequest{OS: "fedora-coreos", Version: "43.1"}, "", "a version is for Flatcar"},
		{"flatcar bad version", api.PullRequest{OS: "flatcar", Version: "../x"}, "", "give current or a release number"},
		{"bad arch", api.PullRequest{OS: "flatcar", Arch: "sparc"}, "", "use x86_64 or aarch64"},
		{"bad fedora mirror", api.PullRequest{OS: "fedora-coreos", FedoraMirror: "ftp://x"}, "", "fedora_mirror"},
		{"loaders flags on flatcar", api.PullRequest{OS: "flatcar", NoLoaders: true}, "", "are for Fedora CoreOS images"},
		{"fedora mirror on generic", api.PullRequest{OS: "generic", FedoraMirror: "http://m", Name: "x"}, "", "are for Fedora CoreOS images"},
		{"generic without files", api.PullRequest{OS: "generic", Name: "tiny"}, "", "needs a name and its files"},
		{"unknown os", api.PullRequest{OS: "windows"}, "", "pull fedora-coreos, flatcar or generic"},
		{"negative timeout", api.PullRequest{OS: "flatcar", TimeoutSeconds: -1}, "", "positive number of seconds"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			key, _, err := plan(tt.req)
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("plan = %q, %v; want an ErrInvalid saying %q", key, err, tt.wantErr)
				}
				return
			}
			if err != nil || key != tt.key {
				t.Fatalf("plan = %q, %v; want %q", key, err, tt.key)
			}
		})
	}
}
