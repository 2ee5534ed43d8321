package httpboot

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/grubcfg/grubtest"
	"github.com/pixie-boot/pixie/daemon/store"
)

// FuzzGRUBConfig puts hostile machine hostnames, variables and profile
// names into the GRUB config pixie serves and judges it with a model of
// GRUB's lexer (package grubtest): whatever the values, the config runs
// the commands a harmless one runs, or is the error config.
func FuzzGRUBConfig(f *testing.F) {
	for _, s := range append(hostileSeeds(), "'; reboot; echo '", "$root", "}\nfi\nreboot", `'\''`, "{", "a;b") {
		f.Add(s, s, s)
		f.Add("node1", s, "p")
	}
	assets := f.TempDir()
	for _, p := range []string{"fcos/vmlinuz", "fcos/initramfs.img"} {
		os.MkdirAll(filepath.Join(assets, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(assets, p), []byte("x"), 0o644)
	}
	root, err := os.OpenRoot(assets)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { root.Close() })
	const args = "console=ttyS0 hostname={{.Hostname}} v={{.Vars.v}} {{.Vars.v}} profile={{.Profile}} ignition.config.url={{.IgnitionURL}}"
	config := func(host, v, profile string) string {
		srv := New(Config{ServerURL: func() string { return "http://10.0.0.2:8080" }, RetryDelay: 30e9}, Deps{
			Log: slog.New(slog.DiscardHandler),
			Store: planner{store.BootPlan{
				Machine: store.Machine{Hostname: host, Vars: map[string]string{"v": v}},
				Profile: store.Profile{Name: profile, Kernel: "fcos/vmlinuz", Initrds: []string{"fcos/initramfs.img"}, Args: args},
			}},
			Assets:   root,
			Events:   noEvents{},
			Counters: events.NewCounters(),
		})
		g, err := srv.OpenGRUB(context.Background(), "grub.cfg-01-52-54-00-12-34-56", "10.0.0.50", "")
		if err != nil {
			f.Fatal(err)
		}
		b, _ := io.ReadAll(g)
		return string(b)
	}
	shape := func(t *testing.T, cfg string) string {
		s, err := grubtest.Shape(cfg)
		if err != nil {
			t.Fatalf("%v\n%s", err, cfg)
		}
		return s
	}
	boot := config("node1", "v1", "p1")
	errCfg := config("node1", "v1\x01", "p1") // a control byte cannot be quoted: the error config
	if !strings.Contains(boot, "\nboot\n") && !strings.Contains(boot, "  boot\n") || strings.Contains(errCfg, "linux") {
		f.Fatalf("fixtures:\n%s\n%s", boot, errCfg)
	}
	f.Fuzz(func(t *testing.T, host, v, profile string) {
		got := config(host, v, profile)
		s := shape(t, got)
		if strings.Contains(got, "\nif linux ") {
			// Words split at spaces as for iPXE: compare the config with
			// the linux line's quoted words folded into one.
			if fold(s) != fold(shape(t, boot)) {
				t.Fatalf("config injected:\n%s\nwant the shape of\n%s", got, boot)
			}
			return
		}
		if want := shape(t, errCfg); strings.Count(s, "\n") < strings.Count(want, "\n")-1 || !strings.HasSuffix(s, "\nsleep 30|\nconfigfile Q|\n|") {
			t.Fatalf("error config injected:\n%s", got)
		}
		for _, line := range strings.Split(s, "\n") {
			if line != "#" && line != "|" && line != "echo Q|" && line != "sleep 30|" && line != "configfile Q|" {
				t.Fatalf("error config runs %q:\n%s", line, got)
			}
		}
	})
}

// fold collapses runs of quoted words (Q Q Q) into one Q.
func fold(shape string) string {
	for strings.Contains(shape, "Q Q") {
		shape = strings.ReplaceAll(shape, "Q Q", "Q")
	}
	return shape
}
