package paths

import (
	"path/filepath"
	"testing"
)

func TestLayouts(t *testing.T) {
	for _, goos := range []string{"linux", "darwin"} {
		l := For(goos)
		for _, p := range []string{l.DataDir, l.Socket} {
			if !filepath.IsAbs(p) {
				t.Errorf("%s: %q is not absolute", goos, p)
			}
		}
		if l.SocketGroup == "" {
			t.Errorf("%s: no socket group", goos)
		}
	}
	if For("darwin").SocketGroup != "admin" || For("linux").SocketGroup != "pixie" {
		t.Error("socket groups: want admin on macOS, pixie on Linux")
	}
}
