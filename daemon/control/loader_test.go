package control

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pixie-boot/pixie/daemon/api"
)

// loaderCalls records what the control API tells the DHCP ladder.
type loaderCalls struct {
	mu    sync.Mutex
	calls []string
}

func (l *loaderCalls) SetLoader(mac, loader, step string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, "set "+mac+" "+loader+" "+step)
}

func (l *loaderCalls) Forget(mac string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, "forget "+mac)
}

func TestMachineLoaderReachesTheLadder(t *testing.T) {
	book := &loaderCalls{}
	env := startServer(t, func(d *Deps) { d.Loaders = book })
	ctx := context.Background()
	const mac = "52:54:00:00:00:31"

	// The DHCP server stepped this unseen machine (it writes the store).
	if err := env.store.SetLoaderStep(ctx, mac, "ipxe", "firmware did not run snponly.efi: stepping to ipxe.efi", time.Now()); err != nil {
		t.Fatal(err)
	}
	m, err := env.client.Machine(ctx, mac)
	if err != nil {
		t.Fatal(err)
	}
	if m.Loader != "auto" || m.LoaderStep != "ipxe" || m.LoaderReason == "" || m.LoaderStepAt.IsZero() {
		t.Fatalf("machine after a step: %+v", m)
	}
	// Changing another field keeps the step; pinning; then the reset.
	m.Hostname = "node1"
	if m, err = env.client.PutMachine(ctx, m); err != nil || m.LoaderStep != "ipxe" {
		t.Fatalf("hostname change: %+v, %v", m, err)
	}
	m.Loader, m.LoaderStep = "grub", ""
	if m, err = env.client.PutMachine(ctx, m); err != nil || m.Loader != "grub" || m.LoaderStep != "" {
		t.Fatalf("pin: %+v, %v", m, err)
	}
	m.Loader = "auto"
	if m, err = env.client.PutMachine(ctx, m); err != nil || m.Loader != "auto" {
		t.Fatalf("reset: %+v, %v", m, err)
	}
	if _, err := env.client.PutMachine(ctx, api.Machine{MAC: mac, Loader: "pxelinux"}); !api.IsCode(err, api.CodeInvalid) {
		t.Fatalf("bad loader: %v, want invalid", err)
	}
	if err := env.client.DeleteMachine(ctx, mac); err != nil {
		t.Fatal(err)
	}
	want := []string{"set " + mac + " auto ipxe", "set " + mac + " grub ", "set " + mac + " auto ", "forget " + mac}
	book.mu.Lock()
	defer book.mu.Unlock()
	if diff := cmp.Diff(want, book.calls); diff != "" {
		t.Errorf("calls to the ladder (-want +got):\n%s", diff)
	}
}
