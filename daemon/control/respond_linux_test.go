package control

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/store"
)

// TestDiskFullThroughAPI fills a real disk: the store's data directory on a
// small tmpfs, filled with a file. A write through the client fails with
// 507 and the message, changes nothing, and works once space is freed.
// Mounting needs root; without it the test is skipped.
func TestDiskFullThroughAPI(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size=2m,mode=0700"); err != nil {
		t.Skipf("mount a tmpfs on %s: %v", dir, err)
	}
	// Registered first, so it runs last: after the server and the store
	// are closed.
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "pixie.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	env := startServer(t, func(d *Deps) { d.Store = st })

	// Fill the file system.
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for range 64 { // at most 4 MiB: more than the tmpfs holds
		if _, err = f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling the tmpfs: %v, want ENOSPC", err)
	}

	const mac = "52:54:00:d1:5c:01"
	big := strings.Repeat("x", 60<<10) // needs new pages in the WAL
	_, err = env.client.PutMachine(ctx, api.Machine{MAC: mac, Vars: map[string]string{"big": big}})
	var e *api.Error
	if !errors.As(err, &e) || e.Status != http.StatusInsufficientStorage || e.Code != api.CodeDiskFull || e.Error() != diskFullMessage {
		t.Fatalf("PutMachine with the disk full: %#v, want 507 %s %q", err, api.CodeDiskFull, diskFullMessage)
	}
	_, err = env.client.CreateProfile(ctx, api.Profile{Name: "full", Kernel: "k", Description: big})
	if !api.IsCode(err, api.CodeDiskFull) {
		t.Errorf("CreateProfile with the disk full: %v, want %s", err, api.CodeDiskFull)
	}
	if _, err := env.client.Machine(ctx, mac); !api.IsCode(err, api.CodeNotFound) {
		t.Errorf("after a failed write the machine is there: %v", err)
	}
	if !strings.Contains(env.logs.String(), "disk is full") {
		t.Errorf("the daemon's log does not say the disk is full:\n%s", env.logs.String())
	}

	// Space again.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if _, err := env.client.PutMachine(ctx, api.Machine{MAC: mac, Vars: map[string]string{"big": big}}); err != nil {
		t.Fatalf("PutMachine after space was freed: %v", err)
	}
}
