package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/helper/service"
)

// TestInstallServiceHasServeFlags keeps `install service` in step with
// `serve`: every flag a person can give the daemon can be given to the
// service.
func TestInstallServiceHasServeFlags(t *testing.T) {
	serve := newServeCmd()
	install := newInstallServiceCmd(&cli{})
	// The installer sets these itself where the OS needs them (launchd:
	// the log newsyslog rotates); systemd logs to the journal.
	installerSets := map[string]bool{"log-file": true, "pid-file": true}
	serve.Flags().VisitAll(func(f *pflag.Flag) {
		if installerSets[f.Name] {
			return
		}
		g := install.Flags().Lookup(f.Name)
		if g == nil {
			t.Errorf("pixie serve has --%s, pixie install service does not", f.Name)
			return
		}
		if g.DefValue != f.DefValue {
			t.Errorf("--%s: default %q for serve, %q for install service", f.Name, f.DefValue, g.DefValue)
		}
	})
}

// TestInstallServiceStaged runs `pixie install service --root` and finds
// the unit (or plist) where the service manager reads it.
func TestInstallServiceStaged(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("services exist on Linux and macOS only")
	}
	root := t.TempDir()
	exe := filepath.Join(t.TempDir(), "pixie")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"install", "service", "--root", root, "--executable", exe, "--interface", "eth0", "--http-port", "8081", "--socket", "/run/pixie/other.sock"}
	out := mustPixie(t, nil, args...)
	file := filepath.Join(root, filepath.FromSlash(service.SystemdUnitPath))
	if runtime.GOOS == "darwin" {
		file = filepath.Join(root, filepath.FromSlash(service.LaunchdPlistPath))
	}
	wantContains(t, "install", out, "staged the pixie service", file, exe+" serve --interface eth0 --http-port 8081 --socket /run/pixie/other.sock")
	content, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("no service file where the service manager reads it: %v", err)
	}
	if !strings.Contains(string(content), "--http-port") {
		t.Errorf("the flags are not in the service file:\n%s", content)
	}

	wantContains(t, "install again", mustPixie(t, nil, args...), "already installed", "nothing changed")
	code, _, errOut := pixie(t, nil, "", "install", "service", "--root", root, "--executable", exe)
	if code != 1 || !strings.Contains(errOut, "--force") || !strings.Contains(errOut, "--interface eth0") {
		t.Errorf("install with other flags: exit %d, %s", code, errOut)
	}
	wantContains(t, "force", mustPixie(t, nil, "install", "service", "--root", root, "--executable", exe, "--force"), "staged")

	wantContains(t, "uninstall", mustPixie(t, nil, "uninstall", "service", "--root", root), "removed the pixie service", "kept the data")
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("uninstall left %s", file)
	}
	code, _, errOut = pixie(t, nil, "", "install", "service", "--root", root, "--executable", exe, "--http-port", "99999")
	if code != exitUsage || !strings.Contains(errOut, "99999") {
		t.Errorf("bad port: exit %d, %s", code, errOut)
	}
}

func TestFormatServiceLine(t *testing.T) {
	got := formatServiceLine(service.State{Kind: "systemd", Installed: true, Status: "running", CommandLine: "/usr/bin/pixie serve"})
	want := "service:    installed (systemd), running\n            /usr/bin/pixie serve\n"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	// Aligned with formatStatus's fields.
	if !strings.HasPrefix(strings.Split(formatStatus(api.Status{Interface: "eth0"}, time.Now()), "\n")[1], "interface:  ") {
		t.Error("formatStatus's label width changed: align formatServiceLine with it")
	}
}

func TestDoctorCLI(t *testing.T) {
	dataDir := t.TempDir()
	sock := filepath.Join(t.TempDir(), "none.sock")
	// Unusual ports, so nothing on this host holds them.
	args := []string{"--socket", sock, "doctor", "--data-dir", dataDir, "--dhcp-port", "1", "--pxe-port", "2", "--tftp-port", "3", "--http-port", "4"}
	code, out, errOut := pixie(t, nil, "", args...)
	if code != exitFailure || !strings.Contains(errOut, "problem") {
		t.Errorf("no daemon: exit %d, stderr %q", code, errOut)
	}
	wantContains(t, "doctor", out, "FAIL  daemon", "no socket at "+sock, "fix: sudo pixie serve", "database", "blocks network boot")
	code, out, _ = pixie(t, nil, "", append(args, "--json")...)
	var r struct {
		Checks   []struct{ Name, Status, Message, Fix string }
		Blocking bool
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != exitFailure || !r.Blocking || len(r.Checks) < 5 {
		t.Errorf("--json: exit %d, %v, %+v", code, err, r)
	}
}

// TestInstallServiceKeepFlags: --keep-flags installs the service again for
// this pixie with the flags it has, which is how an older macOS
// LaunchDaemon (launchd writing the log) gets --log-file and --pid-file.
func TestInstallServiceKeepFlags(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("services exist on Linux and macOS only")
	}
	root := t.TempDir()
	exe := filepath.Join(t.TempDir(), "pixie")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := pixie(t, nil, "", "install", "service", "--root", root, "--executable", exe, "--keep-flags")
	if code != exitFailure || !strings.Contains(errOut, "install it with `sudo pixie install service`") {
		t.Errorf("--keep-flags with nothing installed: exit %d, %s", code, errOut)
	}
	mustPixie(t, nil, "install", "service", "--root", root, "--executable", exe, "--interface", "eth0", "--http-port", "8081", "--events-max-age", "7d")
	out := mustPixie(t, nil, "install", "service", "--root", root, "--executable", exe, "--keep-flags")
	wantContains(t, "keep flags", out, exe+" serve --interface eth0 --http-port 8081 --events-max-age 7d")
	code, _, errOut = pixie(t, nil, "", "install", "service", "--root", root, "--executable", exe, "--keep-flags", "--interface", "eth1")
	if code != exitUsage || !strings.Contains(errOut, "drop --interface") {
		t.Errorf("--keep-flags with --interface: exit %d, %s", code, errOut)
	}
}

// The macOS migration itself: a plist from before --log-file gets it.
func TestKeepFlagsAddsTheLogFileOnMacOS(t *testing.T) {
	root := t.TempDir()
	m := &service.Manager{GOOS: "darwin", Root: root}
	old := service.Spec{GOOS: "darwin", Executable: "/Applications/Pixie.app/Contents/MacOS/pixie", Args: []string{"serve", "--interface", "en5", "--dhcp-link-layer"}}
	plist, err := service.LaunchdPlist(old)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, filepath.FromSlash(service.LaunchdPlistPath))
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, plist, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := newInstallServiceCmd(&cli{})
	if err := cmd.ParseFlags(nil); err != nil {
		t.Fatal(err)
	}
	var s service.Settings
	var age string
	if err := installedSettings(cmd, m, &s, &age); err != nil {
		t.Fatal(err)
	}
	spec, err := s.Spec("darwin", old.Executable)
	if err != nil {
		t.Fatal(err)
	}
	want := "serve --interface en5 --dhcp-link-layer --log-file /Library/Logs/Pixie/pixie.log --pid-file /var/run/pixie.pid"
	if got := strings.Join(spec.Args, " "); got != want {
		t.Errorf("kept flags: %q\nwant %q", got, want)
	}
	// A flag this pixie does not know: say so, do not guess.
	odd, _ := service.LaunchdPlist(service.Spec{GOOS: "darwin", Executable: old.Executable, Args: []string{"serve", "--turbo"}})
	os.WriteFile(p, odd, 0o644)
	if err := installedSettings(cmd, m, &s, &age); err == nil || !strings.Contains(err.Error(), "a flag this pixie does not know") || !strings.Contains(err.Error(), "--force") {
		t.Errorf("unknown installed flag: %v", err)
	}
}

// TestInstallServiceDHCP: the service takes full DHCP mode's flags onto
// its `pixie serve` command line (--dhcp-force becomes serve's --force).
func TestInstallServiceDHCP(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("checks the systemd unit")
	}
	root := t.TempDir()
	exe := filepath.Join(t.TempDir(), "pixie")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	mustPixie(t, nil, "install", "service", "--root", root, "--executable", exe, "--interface", "eth1",
		"--dhcp", "--dhcp-range", "10.9.0.100-10.9.0.150", "--dhcp-router", "10.9.0.1", "--dhcp-force")
	content, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(service.SystemdUnitPath)))
	if err != nil {
		t.Fatal(err)
	}
	want := exe + " serve --interface eth1 --dhcp --dhcp-range 10.9.0.100-10.9.0.150 --dhcp-router 10.9.0.1 --force"
	if !strings.Contains(string(content), want) {
		t.Errorf("the unit does not run %q:\n%s", want, content)
	}
	// --keep-flags reads them back, serve's --force included.
	out := mustPixie(t, nil, "install", "service", "--root", root, "--executable", exe, "--keep-flags")
	wantContains(t, "keep flags", out, want)
}
