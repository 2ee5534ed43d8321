package httpboot

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/store"
)

// grubWords returns the single-quoted words of the first line of cfg that
// starts with cmd (after "if "), unquoted.
func grubWords(t *testing.T, cfg, cmd string) []string {
	t.Helper()
	for _, line := range strings.Split(cfg, "\n") {
		l := strings.TrimPrefix(strings.TrimSpace(line), "if ")
		if !strings.HasPrefix(l, cmd+" ") {
			continue
		}
		var out []string
		for _, m := range regexp.MustCompile(`'((?:[^']|'\\'')*)'`).FindAllStringSubmatch(l, -1) {
			out = append(out, strings.ReplaceAll(m[1], `'\''`, "'"))
		}
		return out
	}
	t.Fatalf("no %s line in:\n%s", cmd, cfg)
	return nil
}

func TestGRUBBoot(t *testing.T) {
	f := newFixture(t)
	kernel := strings.Repeat("K", 70000)
	initrd := strings.Repeat("I", 3000)
	os.WriteFile(filepath.Join(f.assets, "first-time/vmlinuz"), []byte(kernel), 0o644)
	os.WriteFile(filepath.Join(f.assets, "first-time/initrd.img"), []byte(initrd), 0o644)
	const mac = "52:54:00:aa:bb:cc"
	host := strings.TrimPrefix(f.url, "http://")
	host = host[:strings.LastIndex(host, ":")]

	for _, path := range []string{"/grub/grub.cfg?mac=52-54-00-aa-bb-cc", "/grub.cfg-01-52-54-00-aa-bb-cc", "/EFI/fedora/grub.cfg-01-52-54-00-AA-BB-CC", "/firmware/grub.cfg?mac=52:54:00:aa:bb:cc"} {
		resp, cfg := f.get(t, path)
		if resp.StatusCode != 200 || resp.ContentLength != int64(len(cfg)) {
			t.Fatalf("GET %s = %d (Content-Length %d, %d bytes)", path, resp.StatusCode, resp.ContentLength, len(cfg))
		}
		linux := grubWords(t, cfg, "linux")
		if linux[0] != "(tftp,"+host+")/pixie/52-54-00-aa-bb-cc/kernel" {
			t.Errorf("%s: kernel path %q", path, linux[0])
		}
		var ign string
		for _, a := range linux[1:] {
			if u, ok := strings.CutPrefix(a, "ignition.config.url="); ok {
				ign = u
			}
			if strings.HasPrefix(a, "initrd=") {
				t.Errorf("GRUB passes the initrd itself; got %q", a)
			}
		}
		if !strings.HasPrefix(ign, f.url+"/ignition?mac=52-54-00-aa-bb-cc") {
			t.Errorf("%s: ignition URL %q in %q", path, ign, linux)
		}
		if got := grubWords(t, cfg, "initrd"); len(got) != 1 || got[0] != "(tftp,"+host+")/pixie/52-54-00-aa-bb-cc/initrd/0" {
			t.Errorf("%s: initrd %q", path, got)
		}
		if !strings.Contains(cfg, "configfile '(tftp,"+host+")/grub.cfg-01-52-54-00-aa-bb-cc'") {
			t.Errorf("%s: no reload of the per-MAC config:\n%s", path, cfg)
		}
		// The Ignition URL with its per-boot token works, as for iPXE.
		resp, body := f.get(t, strings.TrimPrefix(ign, f.url))
		if resp.StatusCode != 200 || !strings.Contains(body, `"version"`) {
			t.Errorf("%s: ignition = %d %s", path, resp.StatusCode, body)
		}
	}

	// The files the config names, as GRUB fetches them (TFTP goes through
	// OpenGRUB; HTTP through the /pixie route).
	srv := New(Config{ServerURL: func() string { return f.url }}, Deps{Store: f.store, Assets: mustRoot(t, f.assets), Events: f.rec, Counters: f.counters, Log: slog.New(slog.DiscardHandler)})
	for name, want := range map[string]string{"pixie/52-54-00-aa-bb-cc/kernel": kernel, "/pixie/52-54-00-aa-bb-cc/initrd/0": initrd} {
		g, err := srv.OpenGRUB(context.Background(), name, "10.0.0.9", "")
		if err != nil {
			t.Fatalf("OpenGRUB(%s): %v", name, err)
		}
		b, _ := io.ReadAll(g)
		g.Close()
		if string(b) != want || g.Size != int64(len(want)) || g.MAC != mac || g.Stage == "" {
			t.Errorf("OpenGRUB(%s) = %d bytes, size %d, mac %q, stage %q", name, len(b), g.Size, g.MAC, g.Stage)
		}
	}
	resp, body := f.get(t, "/pixie/52-54-00-aa-bb-cc/kernel")
	if resp.StatusCode != 200 || body != kernel {
		t.Errorf("kernel over HTTP = %d, %d bytes", resp.StatusCode, len(body))
	}
	// The download is recorded once the body is written: just after the
	// client has it.
	want := "script ignition script ignition script ignition script ignition kernel"
	got := ""
	for deadline := time.Now().Add(5 * time.Second); got != want && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		got = strings.Join(f.rec.stages(mac), " ")
	}
	if got != want {
		t.Errorf("stages = %s\nwant     %s", got, want)
	}
}

func mustRoot(t *testing.T, dir string) *os.Root {
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestGRUBMissingAndUnknown(t *testing.T) {
	f := newFixture(t)
	_, cfg := f.get(t, "/grub.cfg-01-52-54-00-aa-bb-cc")
	for _, want := range []string{"first-time/vmlinuz", "which is not in pixie", "sleep 30", "configfile '(tftp,"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}
	if strings.Contains(cfg, "linux") {
		t.Errorf("error config still tries to boot:\n%s", cfg)
	}
	if got := f.rec.stages("52:54:00:aa:bb:cc"); fmt.Sprint(got) != "[error]" {
		t.Errorf("events = %v, want [error]", got)
	}

	// No MAC in the name, none from proxyDHCP: say so.
	_, cfg = f.get(t, "/grub/grub.cfg")
	if !strings.Contains(cfg, "so it does not know the machine") || !strings.Contains(cfg, "configfile '(tftp,127.0.0.1)/grub/grub.cfg'") {
		t.Errorf("unknown machine:\n%s", cfg)
	}

	// Kernel of a machine whose profile lost its file: 404 and an event.
	resp, _ := f.get(t, "/pixie/52-54-00-aa-bb-cc/initrd/3")
	if resp.StatusCode != 404 {
		t.Errorf("missing initrd = %d", resp.StatusCode)
	}

	// GRUB's probes: quiet 404s, nothing recorded.
	before := len(f.rec.ev)
	for _, p := range []string{"/grub/x86_64-efi/command.lst", "/grub/arm64-efi/fs.lst", "/grub.cfg-0A000210", "/grub/fonts/unicode.pf2"} {
		if resp, _ := f.get(t, p); resp.StatusCode != 404 {
			t.Errorf("GET %s = %d, want 404", p, resp.StatusCode)
		}
	}
	if len(f.rec.ev) != before {
		t.Errorf("probes recorded events: %v", f.rec.ev[before:])
	}
	// Not GRUB's, not anything: 404 from the catch-all.
	if resp, _ := f.get(t, "/favicon.ico"); resp.StatusCode != 404 {
		t.Errorf("favicon = %d", resp.StatusCode)
	}
}

func TestGRUBRemoteKernelRefused(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.store.CreateProfile(ctx, store.Profile{Name: "remote", Kernel: "http://mirror.example/vmlinuz", Args: "console=ttyS0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.PutMachine(ctx, store.Machine{MAC: "52:54:00:00:00:08", Profile: "remote"}); err != nil {
		t.Fatal(err)
	}
	_, cfg := f.get(t, "/grub.cfg-01-52-54-00-00-00-08")
	if !strings.Contains(cfg, "from another server") || strings.Contains(cfg, "linux") {
		t.Errorf("remote kernel:\n%s", cfg)
	}
}

// Hostile values from machine variables and hostnames reach the config
// only as quoted words. (The grubcfg package fuzzes the quoting against a
// model of GRUB's lexer.)
func TestGRUBHostileVars(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	os.WriteFile(filepath.Join(f.assets, "k"), []byte("K"), 0o644)
	if _, err := f.store.CreateProfile(ctx, store.Profile{Name: "h", Kernel: "k", Args: "console=ttyS0 x={{.Vars.x}}"}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{`'; reboot; echo '`, `$root`, `a}b{c`, `\`, `it's`, `"q"`, "`x`"} {
		if _, err := f.store.PutMachine(ctx, store.Machine{MAC: "52:54:00:00:00:09", Profile: "h", Vars: map[string]string{"x": v}}); err != nil {
			t.Logf("store refuses %q: %v", v, err)
			continue
		}
		_, cfg := f.get(t, "/grub.cfg-01-52-54-00-00-00-09")
		// Words split at spaces as for iPXE (the kernel sees the same
		// command line), each one quoted: the config's commands stay.
		if got := grubWords(t, cfg, "linux"); len(got) < 3 || strings.Join(got[2:], " ") != "x="+v {
			t.Errorf("var %q: linux words %q\n%s", v, got, cfg)
		}
		if n := strings.Count(cfg, "\n"); n != 9 || !strings.Contains(cfg, "'; then\n  boot\nfi\n") {
			t.Errorf("var %q: config has %d lines:\n%s", v, n, cfg)
		}
	}
}
