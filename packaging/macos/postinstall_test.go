package macos

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPostinstall runs the pkg's postinstall with stand-ins for
// launchctl, socketfilterfw and pixie that log their arguments: a first
// install allows pixie in the firewall and installs the service; an
// upgrade restarts a loaded daemon with kickstart -k, and bootstraps one
// that was booted out.
func TestPostinstall(t *testing.T) {
	cases := []struct {
		name      string
		installed bool
		loaded    bool
		oldPlist  bool // from before --log-file
		want      []string
	}{
		{"first install", false, false, false, []string{
			"socketfilterfw --add /Applications/Pixie.app/Contents/MacOS/pixie",
			"socketfilterfw --unblockapp /Applications/Pixie.app/Contents/MacOS/pixie",
			"pixie install service --executable /Applications/Pixie.app/Contents/MacOS/pixie",
		}},
		{"upgrade, daemon loaded", true, true, false, []string{
			"socketfilterfw --add /Applications/Pixie.app/Contents/MacOS/pixie",
			"socketfilterfw --unblockapp /Applications/Pixie.app/Contents/MacOS/pixie",
			"launchctl print system/dev.pixie.daemon",
			"launchctl kickstart -k system/dev.pixie.daemon",
		}},
		{"upgrade from a LaunchDaemon without its own log", true, true, true, []string{
			"socketfilterfw --add /Applications/Pixie.app/Contents/MacOS/pixie",
			"socketfilterfw --unblockapp /Applications/Pixie.app/Contents/MacOS/pixie",
			"pixie install service --keep-flags --executable /Applications/Pixie.app/Contents/MacOS/pixie",
		}},
		{"upgrade, daemon booted out", true, false, false, []string{
			"socketfilterfw --add /Applications/Pixie.app/Contents/MacOS/pixie",
			"socketfilterfw --unblockapp /Applications/Pixie.app/Contents/MacOS/pixie",
			"launchctl print system/dev.pixie.daemon",
			"launchctl bootstrap system /Library/LaunchDaemons/dev.pixie.daemon.plist",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			log := filepath.Join(root, "calls")
			stub := func(rel, name, extra string) {
				p := filepath.Join(root, rel)
				os.MkdirAll(filepath.Dir(p), 0o755)
				script := "#!/bin/sh\necho \"" + name + " $*\" >>" + log + "\n" + extra + "\nexit 0\n"
				if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			printExit := "exit 113\n"
			if c.loaded {
				printExit = "exit 0\n"
			}
			stub("bin/launchctl", "launchctl", `[ "$1" = print ] && `+printExit)
			stub("usr/libexec/ApplicationFirewall/socketfilterfw", "socketfilterfw", "")
			stub("Applications/Pixie.app/Contents/MacOS/pixie", "pixie", "")
			if c.installed {
				os.MkdirAll(filepath.Join(root, "Library/LaunchDaemons"), 0o755)
				plist := "<plist><string>serve</string><string>--log-file</string></plist>"
				if c.oldPlist {
					plist = "<plist><string>serve</string></plist>"
				}
				os.WriteFile(filepath.Join(root, "Library/LaunchDaemons/dev.pixie.daemon.plist"), []byte(plist), 0o644)
			}
			cmd := exec.Command("sh", "scripts/postinstall")
			cmd.Env = append(os.Environ(), "PIXIE_TEST_ROOT="+root, "PATH="+filepath.Join(root, "bin")+":"+os.Getenv("PATH"))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("postinstall: %v\n%s", err, out)
			}
			b, _ := os.ReadFile(log)
			got := strings.Split(strings.TrimSpace(string(b)), "\n")
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("calls (-want +got):\n%s", d)
			}
			if target, err := os.Readlink(filepath.Join(root, "usr/local/bin/pixie")); err != nil || target != "/Applications/Pixie.app/Contents/MacOS/pixie" {
				t.Errorf("/usr/local/bin/pixie -> %q, %v", target, err)
			}
		})
	}
}
