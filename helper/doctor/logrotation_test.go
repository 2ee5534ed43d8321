package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pixie-boot/pixie/helper/service"
)

func TestCheckLogRotation(t *testing.T) {
	current, _ := service.Settings{}.Spec("darwin", "/Applications/Pixie.app/Contents/MacOS/pixie")
	installed := service.State{Installed: true, CommandLine: current.CommandLine()}
	old := service.State{Installed: true, CommandLine: "/Applications/Pixie.app/Contents/MacOS/pixie serve"}
	rule := service.NewsyslogConf()
	cases := []struct {
		name   string
		f      Facts
		status Status
		has    string
	}{
		{"rotated", Facts{Service: installed, LogRotation: &LogRotation{Rule: rule}}, OK, "newsyslog rotates /Library/Logs/Pixie/pixie.log"},
		{"no rule", Facts{Service: installed, LogRotation: &LogRotation{}}, Warn, "/etc/newsyslog.d/pixie.conf is missing"},
		{"older LaunchDaemon", Facts{Service: old, LogRotation: &LogRotation{Rule: rule}}, Warn, "installed by an older pixie"},
		{"rule without the pid file", Facts{Service: installed, LogRotation: &LogRotation{Rule: "/Library/Logs/Pixie/pixie.log 644 7 10240 * J\n"}}, Warn, "does not signal pixie"},
	}
	for _, c := range cases {
		got := checkLogRotation(c.f)
		if got.Status != c.status || !strings.Contains(got.Message, c.has) {
			t.Errorf("%s: %+v", c.name, got)
		}
		if got.Status != OK && !strings.Contains(got.Fix, "sudo pixie install service --keep-flags") {
			t.Errorf("%s: fix %q", c.name, got.Fix)
		}
	}
	for _, f := range []Facts{{Service: installed}, {LogRotation: &LogRotation{}}} {
		if c := checkLogRotation(f); c.Name != "" {
			t.Errorf("no check wanted (Linux, or no service): %+v", c)
		}
	}
}

func TestGatherLogRotation(t *testing.T) {
	root := t.TempDir()
	if lr := gatherLogRotation(root); lr.Rule != "" || lr.Err != nil {
		t.Errorf("missing rule: %+v", lr)
	}
	p := filepath.Join(root, "etc", "newsyslog.d", "pixie.conf")
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, []byte(service.NewsyslogConf()), 0o644)
	if lr := gatherLogRotation(root); lr.Rule != service.NewsyslogConf() {
		t.Errorf("rule: %+v", lr)
	}
}
