package service

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseLaunchctlPrint reads arbitrary `launchctl print` output: it
// changes between macOS releases and is not a stable format, so the
// parser must never panic, and what it reports must come from the text.
func FuzzParseLaunchctlPrint(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "launchctl", "*.txt"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("system/dev.pixie.daemon = {\n\tpid = -1\n\t{\n}\n}\n}\n")
	f.Fuzz(func(t *testing.T, out string) {
		job, err := parseLaunchctlPrint(out)
		if err != nil {
			return
		}
		if job.State != "" && !strings.Contains(out, job.State) {
			t.Fatalf("state %q is not in the output", job.State)
		}
		if job.Path != "" && !strings.Contains(out, job.Path) {
			t.Fatalf("path %q is not in the output", job.Path)
		}
		if job.PID < 0 {
			t.Fatalf("negative pid %d", job.PID)
		}
		job.Status() // must not panic either
	})
}
