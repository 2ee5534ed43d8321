package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTestDepsAdvice runs dev/test-deps.sh with stand-ins for id,
// dpkg-query, apt-get and sudo: when it cannot install, it says what this
// machine can do — sudo only where there is one and it is needed.
func TestTestDepsAdvice(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	cases := []struct {
		name      string
		uid       string
		tools     []string // stand-ins present besides id and dpkg-query
		want, not string
	}{
		{"user with sudo", "1000", []string{"apt-get", "sudo"}, "install them with: sudo apt-get install -y iproute2", "su -c"},
		{"user without sudo", "1000", []string{"apt-get"}, "install them as root (there is no sudo here): su -c 'apt-get install -y iproute2", "sudo apt-get"},
		{"root without apt-get", "0", []string{"sudo"}, "this is not a Debian/Ubuntu system", "sudo"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bin := t.TempDir()
			stub := func(name, body string) {
				if err := os.WriteFile(filepath.Join(bin, name), []byte("#!"+bash+"\n"+body+"\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			stub("id", "echo "+c.uid)
			stub("dpkg-query", "exit 1") // nothing installed
			for _, tool := range c.tools {
				stub(tool, "echo \"$0 must not run\" >&2; exit 99")
			}
			for _, real := range []string{"grep", "dirname"} {
				p, err := exec.LookPath(real)
				if err != nil {
					t.Skipf("no %s", real)
				}
				if err := os.Symlink(p, filepath.Join(bin, real)); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(bash, "dev/test-deps.sh")
			cmd.Env = []string{"PATH=" + bin}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("test-deps.sh: %v\n%s", err, out)
			}
			s := string(out)
			if !strings.Contains(s, c.want) || strings.Contains(s, c.not) || strings.Contains(s, "must not run") {
				t.Errorf("output:\n%s\nwant %q, and no %q", s, c.want, c.not)
			}
		})
	}
}
