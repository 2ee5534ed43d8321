package testnet

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCleanStaleOverlays: the overlay of a test process that died is
// unmounted and removed, its lower layer untouched; a live process's
// overlay stays.
func TestCleanStaleOverlays(t *testing.T) {
	RequireRoot(t)
	RequireTools(t, "mount", "umount")
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	lower := t.TempDir()
	if err := os.WriteFile(filepath.Join(lower, "keep"), []byte("cached"), 0o644); err != nil {
		t.Fatal(err)
	}
	mountAt := func(pid int) string {
		dir, err := os.MkdirTemp("", fmt.Sprintf("pixie-ct-%d-", pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{"upper", "work", "root"} {
			if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		opts := fmt.Sprintf("lowerdir=%s,upperdir=%s/upper,workdir=%s/work", lower, dir, dir)
		if out, err := exec.Command("mount", "-t", "overlay", "overlay", "-o", opts, filepath.Join(dir, "root")).CombinedOutput(); err != nil {
			t.Fatalf("mount: %v: %s", err, out)
		}
		t.Cleanup(func() {
			_ = exec.Command("umount", "-l", filepath.Join(dir, "root")).Run()
			os.RemoveAll(dir)
		})
		return filepath.Join(dir, "root")
	}
	stale := mountAt(dead.Process.Pid)
	live := mountAt(os.Getpid())
	// What a container did on top: must go with the overlay, not reach
	// the lower layer.
	if err := os.Remove(filepath.Join(stale, "keep")); err != nil {
		t.Fatal(err)
	}
	removed := cleanStaleOverlays()
	if !slices.Contains(removed, stale) || slices.Contains(removed, live) {
		t.Errorf("cleanStaleOverlays removed %v; want %s and not %s", removed, stale, live)
	}
	info, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(info), " "+stale+" ") {
		t.Errorf("%s is still mounted", stale)
	}
	if !strings.Contains(string(info), " "+live+" ") {
		t.Errorf("the live overlay %s was unmounted", live)
	}
	if _, err := os.Stat(filepath.Dir(stale)); err == nil {
		t.Errorf("%s was not removed", filepath.Dir(stale))
	}
	if b, err := os.ReadFile(filepath.Join(lower, "keep")); err != nil || string(b) != "cached" {
		t.Errorf("the lower layer changed: %q %v", b, err)
	}
}
