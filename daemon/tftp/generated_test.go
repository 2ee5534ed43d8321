package tftp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/firmware"
)

// fakeGenerated stands in for httpboot's GRUB files.
type fakeGenerated struct{ kernel []byte }

type nopCloser struct{ io.ReadSeeker }

func (nopCloser) Close() error { return nil }

func (g fakeGenerated) OpenGenerated(_ context.Context, name string, ip net.IP, mac string) (*GeneratedFile, error) {
	switch strings.TrimPrefix(name, "/") {
	case "grub/grub.cfg":
		cfg := "echo 'for " + mac + "'\n"
		return &GeneratedFile{Content: nopCloser{strings.NewReader(cfg)}, Name: "GRUB config", Source: "generated", Size: int64(len(cfg)), Config: true}, nil
	case "pixie/52-54-00-00-00-77/kernel":
		return &GeneratedFile{Content: nopCloser{bytes.NewReader(g.kernel)}, Name: "k", Source: "assets", MAC: "52:54:00:00:00:77",
			Size: int64(len(g.kernel)), Stage: events.StageKernel, Detail: "k over TFTP"}, nil
	case "grub/x86_64-efi/command.lst":
		return nil, ErrProbe
	case "pixie/52-54-00-00-00-77/initrd/5":
		return nil, errors.New("profile has 1 initrd")
	}
	return nil, ErrNotGenerated
}

func startGRUB(t *testing.T, wait time.Duration) *env {
	t.Helper()
	dataDir, _, files := fakeFirmware(t)
	grub := randomBytes(4000, 9)
	if err := os.WriteFile(filepath.Join(firmware.OverrideDir(dataDir), "grubx64.efi"), grub, 0o644); err != nil {
		t.Fatal(err)
	}
	files["grubx64.efi"] = grub
	e := startWith(t, firmware.NewFrom(firmware.Dirs{DataDir: dataDir}, nil), fakeGenerated{kernel: randomBytes(200000, 8)}, Config{GRUBConfigWait: wait})
	e.dataDir, e.files = dataDir, files
	return e
}

func TestGenerated(t *testing.T) {
	e := startGRUB(t, time.Minute)
	c := e.client(t, 1024, true)

	b, size, err := get(c, "/grub/grub.cfg")
	if err != nil || string(b) != "echo 'for "+testMAC+"'\n" || size != int64(len(b)) {
		t.Fatalf("grub.cfg = %q (tsize %d), %v", b, size, err)
	}
	b, _, err = get(c, "pixie/52-54-00-00-00-77/kernel")
	if err != nil || len(b) != 200000 {
		t.Fatalf("kernel = %d bytes, %v", len(b), err)
	}
	// Firmware is still served when the name is not generated.
	if b, _, err := get(c, "ipxe.efi"); err != nil || !bytes.Equal(b, e.files["ipxe.efi"]) {
		t.Fatalf("ipxe.efi = %d bytes, %v", len(b), err)
	}
	evs := e.waitEvents(t, 2)
	if len(evs) != 2 || evs[0].Stage != events.StageKernel || evs[0].MAC != "52:54:00:00:00:77" || evs[0].Detail != "k over TFTP" ||
		evs[1].Stage != events.StageTFTP || evs[1].MAC != testMAC {
		t.Errorf("events = %+v; want the kernel (with the generated file's MAC) and ipxe.efi, no config (httpboot records it)", evs)
	}

	// Probes and shim's optional files: not found, and no warning.
	for _, name := range []string{"grub/x86_64-efi/command.lst", "revocations_sbat.efi", "shim_certificate_0.efi", "revocations_sku.efi"} {
		if _, _, err := get(c, name); err == nil {
			t.Errorf("%s: served", name)
		}
	}
	e.waitCounter(t, counterNotFound, 4)
	// A generated name that cannot be served: not found, with a warning.
	if _, _, err := get(c, "pixie/52-54-00-00-00-77/initrd/5"); err == nil {
		t.Error("initrd/5 served")
	}
	e.waitCounter(t, counterNotFound, 5)
	e.logs.mu.Lock()
	defer e.logs.mu.Unlock()
	var warned []string
	for _, r := range e.logs.records {
		if r.level >= slog.LevelWarn {
			warned = append(warned, r.msg+" "+r.attrs["file"])
		}
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "initrd/5") {
		t.Errorf("warnings = %q, want only the initrd that cannot be served", warned)
	}
}

func TestGRUBNeverAskedForConfig(t *testing.T) {
	e := startGRUB(t, 300*time.Millisecond)
	c := e.client(t, 1024, true)

	// Fetched GRUB, asked for its config: nothing to explain.
	if _, _, err := get(c, "grubx64.efi"); err != nil {
		t.Fatal(err)
	}
	// The server is done with the download once it has the last ACK,
	// just after the client: a real GRUB takes seconds to start.
	e.waitEvents(t, 1)
	if _, _, err := get(c, "grub/grub.cfg"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond)
	if evs := e.events.all(); len(evs) != 1 || evs[0].Stage != events.StageTFTP {
		t.Fatalf("events = %+v, want only the grubx64.efi download", evs)
	}

	// Fetched GRUB, then silence: an event says why and what to do.
	if _, _, err := get(c, "grubx64.efi"); err != nil {
		t.Fatal(err)
	}
	evs := e.waitEvents(t, 3)
	if len(evs) != 3 {
		t.Fatalf("events = %+v", evs)
	}
	last := evs[2]
	for _, want := range []string{"fetched grubx64.efi but never asked pixie for its GRUB config", "next-server", "full DHCP mode"} {
		if !strings.Contains(last.Detail, want) {
			t.Errorf("explanation lacks %q: %q", want, last.Detail)
		}
	}
	if last.Stage != events.StageError || last.MAC != testMAC || last.IP != "127.0.0.1" {
		t.Errorf("explanation event = %+v", last)
	}
	if got := e.counters.Snapshot()["tftp.grub_no_config"]; got != 1 {
		t.Errorf("tftp.grub_no_config = %d", got)
	}
}

func TestGRUBWatchBounded(t *testing.T) {
	fired := make(chan string, 10)
	w := newGRUBWatch(50*time.Millisecond, func(ip, mac, file string) { fired <- ip })
	w.fetched("a", "", "grubx64.efi")
	w.fetched("b", "", "grubx64.efi")
	w.fetched("a", "", "grubx64.efi") // restarts a's wait; fires once
	w.asked("b")
	select {
	case ip := <-fired:
		if ip != "a" {
			t.Errorf("fired for %s", ip)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("never fired")
	}
	select {
	case ip := <-fired:
		t.Errorf("fired again for %s", ip)
	case <-time.After(200 * time.Millisecond):
	}
	w.fetched("c", "", "grubx64.efi")
	w.stop()
	select {
	case ip := <-fired:
		t.Errorf("fired after stop for %s", ip)
	case <-time.After(150 * time.Millisecond):
	}
}
