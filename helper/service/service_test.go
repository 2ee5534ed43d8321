package service

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	kservice "github.com/kardianos/service"
	"howett.net/plist"
)

func TestSettingsSpec(t *testing.T) {
	tests := []struct {
		name    string
		goos    string
		s       Settings
		args    []string
		dataDir string
		socket  string
		group   string
		wantErr string
	}{
		{name: "defaults stay off the command line", goos: "linux", args: []string{"serve"},
			dataDir: "/var/lib/pixie", socket: "/run/pixie/pixie.sock", group: "pixie"},
		{name: "explicit defaults too", goos: "linux",
			s:    Settings{HTTPPort: 8080, DHCPPort: 67, PXEPort: 4011, TFTPPort: 69, DataDir: "/var/lib/pixie", LogLevel: "info"},
			args: []string{"serve"}, dataDir: "/var/lib/pixie", socket: "/run/pixie/pixie.sock", group: "pixie"},
		{name: "every flag", goos: "linux",
			s: Settings{Interface: "eth0", Address: "10.0.0.2", DataDir: "/srv/pixie/", HTTPPort: 8081, DHCPPort: 1067,
				PXEPort: 14011, TFTPPort: 1069, EFIFile: "snponly.efi", Loader: "grub", SocketGroup: "wheel", Socket: "/srv/pixie.sock", LogLevel: "debug"},
			args: []string{"serve", "--interface", "eth0", "--address", "10.0.0.2", "--data-dir", "/srv/pixie",
				"--http-port", "8081", "--dhcp-port", "1067", "--pxe-port", "14011", "--tftp-port", "1069",
				"--efi-file", "snponly.efi", "--loader", "grub", "--socket-group", "wheel", "--socket", "/srv/pixie.sock", "--log-level", "debug"},
			dataDir: "/srv/pixie", socket: "/srv/pixie.sock", group: "wheel"},
		{name: "macOS defaults", goos: "darwin", s: Settings{Interface: "en5"},
			args:    []string{"serve", "--interface", "en5", "--log-file", "/Library/Logs/Pixie/pixie.log", "--pid-file", "/var/run/pixie.pid"},
			dataDir: "/Library/Application Support/Pixie", socket: "/var/run/pixie.sock", group: "admin"},
		{name: "tokens and event retention", goos: "linux",
			s:       Settings{NoIgnitionTokens: true, IgnitionTokenTTL: 2 * time.Hour, EventsMax: 5000, EventsMaxAge: 7 * 24 * time.Hour},
			args:    []string{"serve", "--no-ignition-tokens", "--ignition-token-ttl", "2h0m0s", "--events-max", "5000", "--events-max-age", "7d"},
			dataDir: "/var/lib/pixie", socket: "/run/pixie/pixie.sock", group: "pixie"},
		{name: "link layer", goos: "linux", s: Settings{DHCPLinkLayer: true},
			args: []string{"serve", "--dhcp-link-layer"}, dataDir: "/var/lib/pixie", socket: "/run/pixie/pixie.sock", group: "pixie"},
		{name: "full DHCP", goos: "linux", s: Settings{DHCP: "full", DHCPRange: "10.0.0.100-10.0.0.199", DHCPLeaseTime: 2 * time.Hour, DHCPRouter: "10.0.0.1", DHCPDNS: "10.0.0.1,1.1.1.1", DHCPForce: true},
			args:    []string{"serve", "--dhcp", "--dhcp-range", "10.0.0.100-10.0.0.199", "--dhcp-lease-time", "2h0m0s", "--dhcp-router", "10.0.0.1", "--dhcp-dns", "10.0.0.1,1.1.1.1", "--force"},
			dataDir: "/var/lib/pixie", socket: "/run/pixie/pixie.sock", group: "pixie"},
		{name: "back to proxy DHCP", goos: "linux", s: Settings{DHCP: "proxy"},
			args: []string{"serve", "--dhcp=false"}, dataDir: "/var/lib/pixie", socket: "/run/pixie/pixie.sock", group: "pixie"},
		{name: "bad DHCP mode", goos: "linux", s: Settings{DHCP: "auto"}, wantErr: "DHCP mode"},
		{name: "event age not whole days", goos: "linux", s: Settings{EventsMaxAge: 36 * time.Hour},
			args: []string{"serve", "--events-max-age", "36h0m0s"}, dataDir: "/var/lib/pixie", socket: "/run/pixie/pixie.sock", group: "pixie"},
		{name: "negative event limit", goos: "linux", s: Settings{EventsMax: -1}, wantErr: "must not be negative"},
		{name: "bad port", goos: "linux", s: Settings{HTTPPort: 70000}, wantErr: "--http-port 70000"},
		{name: "relative data dir", goos: "linux", s: Settings{DataDir: "data"}, wantErr: "absolute"},
		{name: "bad efi file", goos: "linux", s: Settings{EFIFile: "grub.efi"}, wantErr: "--efi-file"},
		{name: "bad loader", goos: "linux", s: Settings{Loader: "pxelinux"}, wantErr: "--loader"},
		{name: "bad log level", goos: "linux", s: Settings{LogLevel: "loud"}, wantErr: "--log-level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := tt.s.Spec(tt.goos, "/usr/local/bin/pixie")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.args, spec.Args); diff != "" {
				t.Errorf("args (-want +got):\n%s", diff)
			}
			if spec.DataDir != tt.dataDir || spec.Socket != tt.socket || spec.SocketGroup != tt.group {
				t.Errorf("data dir, socket, group = %q %q %q; want %q %q %q", spec.DataDir, spec.Socket, spec.SocketGroup, tt.dataDir, tt.socket, tt.group)
			}
		})
	}
	if _, err := (Settings{}).Spec("linux", "pixie"); err == nil {
		t.Error("a relative executable was accepted")
	}
}

// unit is a parsed systemd unit: section → key → values in order.
type unit map[string]map[string][]string

// parseUnit reads the INI-like unit syntax: [Section] headers, Key=Value
// lines, # and ; comments. (No line continuations: pixie writes none.)
func parseUnit(t *testing.T, text string) unit {
	t.Helper()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "" || l[0] == '#' || l[0] == ';':
		case l[0] == '[' && l[len(l)-1] == ']':
			section = l[1 : len(l)-1]
			if u[section] != nil {
				t.Fatalf("line %d: section %s twice", n, section)
			}
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(l, "=")
			if !ok || section == "" || strings.HasSuffix(l, `\`) {
				t.Fatalf("line %d: not a setting in a section: %q", n, l)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

// one returns the single value of key, failing if it is set zero or
// several times.
func (u unit) one(t *testing.T, section, key string) string {
	t.Helper()
	vs := u[section][key]
	if len(vs) != 1 {
		t.Fatalf("[%s] %s set %d times, want once", section, key, len(vs))
	}
	return vs[0]
}

func TestSystemdUnit(t *testing.T) {
	spec, err := Settings{Interface: "eth0", HTTPPort: 8081}.Spec("linux", "/usr/local/bin/pixie")
	if err != nil {
		t.Fatal(err)
	}
	text, err := SystemdUnit(spec)
	if err != nil {
		t.Fatal(err)
	}
	u := parseUnit(t, text)
	want := map[string]map[string]string{
		"Unit": {
			"Wants":                 "network-online.target",
			"After":                 "network-online.target",
			"StartLimitIntervalSec": "0",
		},
		"Service": {
			"Type":                    "simple",
			"ExecStart":               "/usr/local/bin/pixie serve --interface eth0 --http-port 8081",
			"Restart":                 "on-failure",
			"RestartSec":              "2s",
			"CapabilityBoundingSet":   "CAP_NET_BIND_SERVICE CAP_NET_RAW",
			"AmbientCapabilities":     "CAP_NET_BIND_SERVICE CAP_NET_RAW",
			"SupplementaryGroups":     "pixie",
			"NoNewPrivileges":         "yes",
			"ProtectSystem":           "strict",
			"ProtectHome":             "yes",
			"StateDirectory":          "pixie",
			"RuntimeDirectory":        "pixie",
			"ReadWritePaths":          "/var/lib/pixie /run/pixie",
			"RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6 AF_NETLINK",
			"PrivateTmp":              "yes",
		},
		"Install": {"WantedBy": "multi-user.target"},
	}
	for section, kv := range want {
		for k, v := range kv {
			if got := u.one(t, section, k); got != v {
				t.Errorf("[%s] %s = %q, want %q", section, k, got, v)
			}
		}
	}
	if _, ok := u["Service"]["User"]; ok {
		t.Error("the unit sets User=: pixie runs as root with bounded capabilities (see SystemdUnit)")
	}
	// The library's default RestartSec=120 must not sneak in.
	if strings.Contains(text, "RestartSec=120") {
		t.Error("RestartSec=120 in the unit")
	}
}

func TestSystemdUnitElsewhere(t *testing.T) {
	spec, err := Settings{DataDir: "/home/ops/pixie data", Socket: "/srv/pixie/ctl.sock", SocketGroup: "ops"}.Spec("linux", "/opt/pixie/bin/pixie")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := SystemdUnit(spec)
	u := parseUnit(t, text)
	if _, ok := u["Service"]["StateDirectory"]; ok {
		t.Error("StateDirectory set for a data dir outside /var/lib")
	}
	if _, ok := u["Service"]["RuntimeDirectory"]; ok {
		t.Error("RuntimeDirectory set for a socket outside /run")
	}
	for k, v := range map[string]string{
		"ReadWritePaths":      `"/home/ops/pixie data" /srv/pixie`,
		"ProtectHome":         "read-only",
		"SupplementaryGroups": "ops",
	} {
		if got := u.one(t, "Service", k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestExecStartQuoting(t *testing.T) {
	args := []string{"serve", "--interface", "eth 0", "--data-dir", `/srv/100% "pixie"\$HOME`, "--address", "10.0.0.2"}
	spec := Spec{GOOS: "linux", Executable: "/opt/my tools/pixie", Args: args, DataDir: "/var/lib/pixie", Socket: "/run/pixie/pixie.sock", SocketGroup: "pixie"}
	text, err := SystemdUnit(spec)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, `%%`) || !strings.Contains(text, `$$HOME`) {
		t.Errorf("%% and $ not doubled:\n%s", text)
	}
	got, err := parseExecStart(text)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(append([]string{spec.Executable}, args...), got); diff != "" {
		t.Errorf("ExecStart read back (-want +got):\n%s", diff)
	}
}

// TestSystemdAnalyzeVerify has systemd check the unit, when
// systemd-analyze is installed (it needs no running systemd).
func TestSystemdAnalyzeVerify(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed (Debian package systemd): unit not verified by systemd")
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "pixie")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	spec, err := Settings{Interface: "eth0"}.Spec("linux", exe)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := SystemdUnit(spec)
	unitFile := filepath.Join(dir, "pixie.service")
	if err := os.WriteFile(unitFile, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", unitFile).CombinedOutput()
	t.Logf("systemd-analyze verify:\n%s", out)
	if err != nil {
		t.Fatalf("systemd-analyze verify failed: %v", err)
	}
	for l := range strings.Lines(string(out)) {
		if strings.Contains(l, "pixie.service") {
			t.Errorf("systemd-analyze complains about the unit: %s", l)
		}
	}
}

func TestLaunchdPlist(t *testing.T) {
	spec, err := Settings{Interface: "en5", DataDir: "/Users/Shared/Pixie & co"}.Spec("darwin", "/Applications/Pixie.app/Contents/MacOS/pixie")
	if err != nil {
		t.Fatal(err)
	}
	data, err := LaunchdPlist(spec)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	format, err := plist.Unmarshal(data, &got)
	if err != nil {
		t.Fatalf("the plist does not parse: %v\n%s", err, data)
	}
	if format != plist.XMLFormat {
		t.Errorf("format %d, want XML", format)
	}
	want := map[string]any{
		"Label": "dev.pixie.daemon",
		"ProgramArguments": []any{"/Applications/Pixie.app/Contents/MacOS/pixie", "serve",
			"--interface", "en5", "--data-dir", "/Users/Shared/Pixie & co",
			// pixie owns its log, so newsyslog can rotate it (NewsyslogConf).
			"--log-file", "/Library/Logs/Pixie/pixie.log", "--pid-file", "/var/run/pixie.pid"},
		"RunAtLoad":        true,
		"KeepAlive":        true,
		"ThrottleInterval": uint64(5),
		// Only what escapes the log: a panic, an error before it opens.
		"StandardOutPath":   "/Library/Logs/Pixie/pixie-stderr.log",
		"StandardErrorPath": "/Library/Logs/Pixie/pixie-stderr.log",
		"WorkingDirectory":  "/",
		// Inside Pixie.app: Login Items shows the daemon as Pixie.
		"AssociatedBundleIdentifiers": []any{"dev.pixie.Pixie"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plist (-want +got):\n%s", diff)
	}
	// A plain binary (Homebrew, make build) has no bundle to name.
	plain, err := LaunchdPlist(Spec{GOOS: "darwin", Executable: "/usr/local/bin/pixie", Args: []string{"serve"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(plain), "AssociatedBundleIdentifiers") {
		t.Errorf("plist for /usr/local/bin/pixie names a bundle:\n%s", plain)
	}
	// A daemon without --log-file (a hand-made Spec) logs to stderr:
	// launchd's file must then be the log itself.
	if !strings.Contains(string(plain), "<string>/Library/Logs/Pixie/pixie.log</string>") || strings.Contains(string(plain), "pixie-stderr.log") {
		t.Errorf("plist without --log-file does not send the output to pixie.log:\n%s", plain)
	}
	if _, ok := got["UserName"]; ok {
		t.Error("UserName set: the LaunchDaemon must run as root to bind ports 67, 69, 4011")
	}
}

func TestKardianosConfig(t *testing.T) {
	spec, _ := Settings{}.Spec("darwin", "/usr/local/bin/pixie")
	content, _ := spec.Render()
	cfg, err := spec.kardianosConfig(content)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Name != LaunchdLabel || cfg.Option["LaunchdConfig"] != string(content) || cfg.Option["KeepAlive"] != true {
		t.Errorf("darwin config: %+v", cfg)
	}
	spec, _ = Settings{}.Spec("linux", "/usr/local/bin/pixie")
	content, _ = spec.Render()
	cfg, _ = spec.kardianosConfig(content)
	if cfg.Name != SystemdName || cfg.Option["SystemdScript"] != string(content) {
		t.Errorf("linux config: %+v", cfg)
	}
	// kardianos/service writes /etc/systemd/system/<Name>.service.
	if "/etc/systemd/system/"+cfg.Name+".service" != SystemdUnitPath {
		t.Error("SystemdUnitPath is not where kardianos/service writes the unit")
	}
	spec.Args = append(spec.Args, "--interface", "{{Path}}")
	content, _ = spec.Render()
	if _, err := spec.kardianosConfig(content); err == nil {
		t.Error("template braces passed through to kardianos/service")
	}
}

// fakeCtl records calls and writes the file as kardianos/service would.
type fakeCtl struct {
	file     string
	content  string
	calls    *[]string
	platform string
}

func (f *fakeCtl) rec(c string) { *f.calls = append(*f.calls, c) }
func (f *fakeCtl) Install() error {
	f.rec("install")
	if err := os.MkdirAll(filepath.Dir(f.file), 0o755); err != nil {
		return err
	}
	return os.WriteFile(f.file, []byte(f.content), 0o644)
}
func (f *fakeCtl) Uninstall() error { f.rec("uninstall"); return os.Remove(f.file) }
func (f *fakeCtl) Start() error     { f.rec("start"); return nil }
func (f *fakeCtl) Stop() error      { f.rec("stop"); return nil }
func (f *fakeCtl) Restart() error   { f.rec("restart"); return nil }
func (f *fakeCtl) Status() (kservice.Status, error) {
	f.rec("status")
	return kservice.StatusRunning, nil
}
func (f *fakeCtl) Platform() string { return f.platform }

func TestInstallStagedLinux(t *testing.T) {
	root := t.TempDir()
	var groups []string
	m := &Manager{GOOS: "linux", Root: root, EnsureGroup: func(name string) (bool, error) {
		groups = append(groups, name)
		return true, nil
	}}
	spec, _ := Settings{Interface: "eth0"}.Spec("linux", "/usr/local/bin/pixie")
	res, err := m.Install(spec, false)
	if err != nil {
		t.Fatal(err)
	}
	unitFile := filepath.Join(root, "etc/systemd/system/pixie.service")
	if res.Path != unitFile || res.Unchanged || res.Replaced || res.Started || !res.GroupCreated {
		t.Errorf("first install: %+v", res)
	}
	got, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatalf("the unit is not where systemctl reads it: %v", err)
	}
	want, _ := SystemdUnit(spec)
	if string(got) != want {
		t.Errorf("installed unit differs from the rendered one:\n%s", cmp.Diff(want, string(got)))
	}
	if diff := cmp.Diff([]string{"pixie"}, groups); diff != "" {
		t.Errorf("groups created (-want +got):\n%s", diff)
	}

	st := m.State()
	if !st.Installed || st.Kind != "systemd" || st.CommandLine != "/usr/local/bin/pixie serve --interface eth0" || st.Status != "unknown" {
		t.Errorf("state after install: %+v", st)
	}

	// Again: nothing changes.
	fi, _ := os.Stat(unitFile)
	res, err = m.Install(spec, false)
	if err != nil || !res.Unchanged {
		t.Fatalf("second install: %+v, %v", res, err)
	}
	if fi2, _ := os.Stat(unitFile); !fi2.ModTime().Equal(fi.ModTime()) {
		t.Error("second install rewrote the unit")
	}

	// Other flags: refused without force, replaced with it.
	other, _ := Settings{Interface: "eth1", HTTPPort: 8081}.Spec("linux", "/usr/local/bin/pixie")
	_, err = m.Install(other, false)
	var conflict *ConflictError
	if !errors.As(err, &conflict) {
		t.Fatalf("install with other flags: %v, want a ConflictError", err)
	}
	if conflict.Installed != "/usr/local/bin/pixie serve --interface eth0" || !strings.Contains(err.Error(), "--force") {
		t.Errorf("conflict: %v", err)
	}
	if got2, _ := os.ReadFile(unitFile); string(got2) != want {
		t.Error("a refused install changed the unit")
	}
	res, err = m.Install(other, true)
	if err != nil || !res.Replaced {
		t.Fatalf("forced install: %+v, %v", res, err)
	}
	if args, _ := parseExecStart(mustRead(t, unitFile)); !strings.Contains(strings.Join(args, " "), "--interface eth1 --http-port 8081") {
		t.Errorf("forced install left ExecStart %q", args)
	}

	// Uninstall keeps the data directory; --purge removes it.
	dataDir := filepath.Join(root, "var/lib/pixie")
	if err := os.MkdirAll(filepath.Join(dataDir, "assets"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "pixie.db"), []byte("db"), 0o644); err != nil {
		t.Fatal(err)
	}
	ures, err := m.Uninstall(false)
	if err != nil || !ures.WasInstalled || ures.DataDir != "/var/lib/pixie" {
		t.Fatalf("uninstall: %+v, %v", ures, err)
	}
	if _, err := os.Stat(unitFile); !errors.Is(err, os.ErrNotExist) {
		t.Error("uninstall left the unit")
	}
	if _, err := os.Stat(filepath.Join(dataDir, "pixie.db")); err != nil {
		t.Error("uninstall without --purge removed the database")
	}
	if m.State().Installed {
		t.Error("state says installed after uninstall")
	}
	ures, err = m.Uninstall(true)
	if err != nil || ures.WasInstalled || len(ures.Purged) != 1 {
		t.Fatalf("purge: %+v, %v", ures, err)
	}
	if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
		t.Error("--purge left the data directory")
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPurgeRefusesForeignFiles(t *testing.T) {
	root := t.TempDir()
	m := &Manager{GOOS: "linux", Root: root}
	spec, _ := Settings{DataDir: "/srv"}.Spec("linux", "/usr/local/bin/pixie")
	if _, err := m.Install(spec, false); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "srv", "website.html"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := m.Uninstall(true)
	if err == nil || !strings.Contains(err.Error(), "website.html") {
		t.Fatalf("purge of a shared directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "srv", "website.html")); err != nil {
		t.Error("purge removed a file pixie did not create")
	}
}

func TestInstallStagedDarwin(t *testing.T) {
	root := t.TempDir()
	m := &Manager{GOOS: "darwin", Root: root, EnsureGroup: func(string) (bool, error) {
		t.Error("a group was created on macOS")
		return false, nil
	}}
	spec, _ := Settings{}.Spec("darwin", "/Applications/Pixie.app/Contents/MacOS/pixie")
	if _, err := m.Install(spec, false); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "Library/LaunchDaemons/dev.pixie.daemon.plist"))
	if err != nil {
		t.Fatal(err)
	}
	args, err := parseLaunchdArgs(data)
	if err != nil || strings.Join(args, " ") != "/Applications/Pixie.app/Contents/MacOS/pixie serve --log-file /Library/Logs/Pixie/pixie.log --pid-file /var/run/pixie.pid" {
		t.Errorf("installed ProgramArguments %q, %v", args, err)
	}
	if fi, err := os.Stat(filepath.Join(root, "Library/Logs/Pixie")); err != nil || !fi.IsDir() {
		t.Error("the log directory was not created")
	}
	conf, err := os.ReadFile(filepath.Join(root, "etc/newsyslog.d/pixie.conf"))
	if err != nil || string(conf) != NewsyslogConf() {
		t.Errorf("newsyslog rule not installed: %v\n%s", err, conf)
	}
	if _, err := m.Uninstall(false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/newsyslog.d/pixie.conf")); !os.IsNotExist(err) {
		t.Errorf("uninstall left the newsyslog rule: %v", err)
	}
}

func TestInstallLiveNeedsRoot(t *testing.T) {
	m := &Manager{GOOS: "linux", IsRoot: func() bool { return false },
		Controller: func(*kservice.Config) (Controller, error) {
			t.Error("the service manager was asked without root")
			return nil, errors.New("no")
		}}
	spec, _ := Settings{}.Spec("linux", "/usr/local/bin/pixie")
	if _, err := m.Install(spec, false); !errors.Is(err, ErrNeedRoot) || !strings.Contains(err.Error(), "sudo pixie install service") {
		t.Errorf("install without root: %v", err)
	}
	if _, err := m.Uninstall(false); !errors.Is(err, ErrNeedRoot) {
		t.Errorf("uninstall without root: %v", err)
	}
	for _, f := range []func() error{m.Start, m.Stop, m.Restart} {
		if err := f(); !errors.Is(err, ErrNeedRoot) {
			t.Errorf("control without root: %v", err)
		}
	}
}

func TestInstallSequence(t *testing.T) {
	root := t.TempDir()
	var calls []string
	platform := "linux-systemd"
	m := &Manager{GOOS: "linux", Root: root, EnsureGroup: func(string) (bool, error) { return false, nil },
		Controller: func(cfg *kservice.Config) (Controller, error) {
			content, _ := cfg.Option["SystemdScript"].(string)
			return &fakeCtl{file: filepath.Join(root, SystemdUnitPath), content: content, calls: &calls, platform: platform}, nil
		}}
	spec, _ := Settings{}.Spec("linux", "/usr/local/bin/pixie")
	if _, err := m.Install(spec, false); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Install(spec, true); err != nil {
		t.Fatal(err)
	}
	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	if st := m.State(); st.Status != "running" {
		t.Errorf("state %+v, want running", st)
	}
	want := []string{"install", "stop", "uninstall", "install", "restart", "status"}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}

	// A system whose service manager is not systemd is refused.
	platform = "linux-sysv"
	if _, err := m.Install(spec, true); err == nil || !strings.Contains(err.Error(), "linux-sysv") {
		t.Errorf("install on sysv: %v", err)
	}
}

func TestStateString(t *testing.T) {
	for _, tt := range []struct {
		st   State
		want string
	}{
		{State{Kind: "systemd", Installed: true, Status: "running"}, "installed (systemd), running"},
		{State{Kind: "launchd", Installed: true}, "installed (launchd)"},
		{State{Kind: "systemd"}, "not installed (systemd; `sudo pixie install service` installs it)"},
	} {
		if got := tt.st.String(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.st, got, tt.want)
		}
	}
}
