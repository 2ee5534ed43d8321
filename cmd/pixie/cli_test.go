package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/control/controltest"
	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/store"
)

// testDaemon is the control side of a pixie daemon on a temporary socket,
// with a real store; the test process may use it whatever its uid.
type testDaemon struct{ *controltest.Daemon }

func startDaemon(t *testing.T) *testDaemon {
	t.Helper()
	return &testDaemon{controltest.Start(t, controltest.Options{
		AnyUID:    true,
		KeepAlive: 100 * time.Millisecond,
		Status: api.Status{Interface: "eth0", Address: "10.0.0.2", Version: "test",
			Ports: api.Ports{DHCP: 67, PXE: 4011, TFTP: 69, HTTP: 8080}},
	})}
}

func (d *testDaemon) record(mac string, stage events.Stage, detail string) {
	d.Record(events.Event{MAC: mac, IP: "10.0.0.9", Arch: "bios", Stage: stage, Detail: detail})
}

// pixie runs the CLI in-process and returns its exit code and output.
func pixie(t *testing.T, d *testDaemon, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if d != nil {
		args = append([]string{"--socket", d.Socket}, args...)
	}
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// mustPixie runs the CLI and fails the test unless it succeeds.
func mustPixie(t *testing.T, d *testDaemon, args ...string) string {
	t.Helper()
	code, out, errOut := pixie(t, d, "", args...)
	if code != 0 {
		t.Fatalf("pixie %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func wantContains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s: %q does not contain %q", what, got, w)
		}
	}
}

func TestCLIStatusAndPause(t *testing.T) {
	d := startDaemon(t)
	var st api.Status
	if err := json.Unmarshal([]byte(mustPixie(t, d, "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if !st.Serving || st.Interface != "eth0" || st.Socket != d.Socket {
		t.Errorf("status --json = %+v", st)
	}
	wantContains(t, "status", mustPixie(t, d, "status"), "state:      serving", "interface:  eth0 10.0.0.2", "ports:      DHCP 67, PXE 4011, TFTP 69, HTTP 8080")

	wantContains(t, "pause", mustPixie(t, d, "pause"), "pixie paused: machines will not be offered network boot until `pixie resume`")
	if !d.Paused.Load() {
		t.Error("daemon not paused")
	}
	wantContains(t, "pause again", mustPixie(t, d, "pause"), "already paused")
	wantContains(t, "status paused", mustPixie(t, d, "status"), "state:      paused")
	wantContains(t, "resume", mustPixie(t, d, "resume"), "pixie resumed")
	if d.Paused.Load() {
		t.Error("daemon still paused")
	}
}

func TestCLIMachines(t *testing.T) {
	d := startDaemon(t)
	out := mustPixie(t, d, "machines", "set", "90-2B-34-14-F6-6A", "--hostname", "node1", "--var", "role=worker", "--var", "note=a,b")
	wantContains(t, "set (create)", out, "machine 90:2b:34:14:f6:6a created: the default profile, hostname node1, vars note, role")

	// Only the given field changes.
	mustPixie(t, d, "machines", "set", "902b.3414.f66a", "--profile", store.DefaultProfileName, "--unset-var", "role")
	var m api.Machine
	if err := json.Unmarshal([]byte(mustPixie(t, d, "--json", "machines", "show", "902B3414F66A")), &m); err != nil {
		t.Fatal(err)
	}
	if m.Hostname != "node1" || m.Profile != store.DefaultProfileName || len(m.Vars) != 1 || m.Vars["note"] != "a,b" {
		t.Errorf("after partial set: %+v", m)
	}
	wantContains(t, "list", mustPixie(t, d, "machines", "list"), "90:2b:34:14:f6:6a  node1", "first-time")

	code, _, errOut := pixie(t, d, "", "machines", "set", "90:2b:34:14:f6:6a", "--profile", "nope")
	if code != 1 || !strings.Contains(errOut, `profile "nope" does not exist`) {
		t.Errorf("unknown profile: exit %d, %q", code, errOut)
	}
	code, _, errOut = pixie(t, d, "", "machines", "set", "90:2b:34:14:f6:6a")
	if code != 2 || !strings.Contains(errOut, "nothing to change") {
		t.Errorf("set without changes: exit %d, %q", code, errOut)
	}

	wantContains(t, "rm", mustPixie(t, d, "machines", "rm", "90:2b:34:14:f6:6a"), "machine 90:2b:34:14:f6:6a removed")
	code, _, errOut = pixie(t, d, "", "machines", "show", "90:2b:34:14:f6:6a")
	if code != 1 || !strings.Contains(errOut, "pixie has no record of 90:2b:34:14:f6:6a") {
		t.Errorf("show removed: exit %d, %q", code, errOut)
	}
	code, _, errOut = pixie(t, d, "", "machines", "show", "90:2b:34:14:f6")
	if code != 2 || !strings.Contains(errOut, `invalid MAC address "90:2b:34:14:f6" is not 6 bytes: it has 5, a MAC address has 6; write it like 90:2b:34:14:f6:6a`) {
		t.Errorf("short MAC: exit %d, %q", code, errOut)
	}
	code, _, errOut = pixie(t, d, "", "machines", "set", "zz:zz", "--hostname", "node1")
	if want := `"zz:zz" is not a MAC address: write it like 90:2b:34:14:f6:6a, 90-2B-34-14-F6-6A, 902b.3414.f66a or 902b3414f66a` + "\nRun 'pixie machines set --help' for usage.\n"; code != 2 || errOut != want {
		t.Errorf("machines set zz:zz: exit %d, %q; want exit 2, %q", code, errOut, want)
	}
}

func TestCLIProfiles(t *testing.T) {
	d := startDaemon(t)
	ign := filepath.Join(t.TempDir(), "node.ign")
	os.WriteFile(ign, []byte(`{"ignition":{"version":"3.4.0"}}`), 0o600)
	out := mustPixie(t, d, "profiles", "add", "fcos", "--os", "fedora-coreos", "--kernel", "fcos/kernel",
		"--initrd", "fcos/initramfs.img", "--initrd", "fcos/rootfs.img", "--ignition", ign, "--description", "FCOS live")
	wantContains(t, "add", out, "profile fcos added: fedora-coreos kernel fcos/kernel, 2 initrd(s)")

	code, _, errOut := pixie(t, d, "", "profiles", "add", "fcos", "--kernel", "k")
	if code != 1 || !strings.Contains(errOut, "already exists: replace it with `pixie profiles add fcos --replace …`") {
		t.Errorf("add twice: exit %d, %q", code, errOut)
	}
	// --replace turns add into a replacement, e.g. of the seeded first-time profile.
	wantContains(t, "add --replace", mustPixie(t, d, "profiles", "add", "first-time", "--replace", "--kernel", "k/vmlinuz"),
		"profile first-time replaced: generic kernel k/vmlinuz, 0 initrd(s)")
	code, _, errOut = pixie(t, d, "", "profiles", "add", "nokernel")
	if code != 2 || !strings.Contains(errOut, "--kernel") {
		t.Errorf("add without kernel: exit %d, %q", code, errOut)
	}

	// Edit changes only what is given; --ignition - reads stdin.
	code, _, errOut = pixie(t, d, `{"ignition":{"version":"3.5.0"}}`, "profiles", "edit", "fcos", "--args", "console=ttyS0", "--ignition", "-")
	if code != 0 {
		t.Fatalf("edit: exit %d, %s", code, errOut)
	}
	var p api.Profile
	if err := json.Unmarshal([]byte(mustPixie(t, d, "profiles", "show", "fcos", "--json")), &p); err != nil {
		t.Fatal(err)
	}
	if p.Args != "console=ttyS0" || !strings.Contains(p.Ignition, "3.5.0") || len(p.Initrds) != 2 || p.Description != "FCOS live" || p.OS != "fedora-coreos" {
		t.Errorf("after edit: %+v", p)
	}
	wantContains(t, "show", mustPixie(t, d, "profiles", "show", "fcos"), "kernel:       fcos/kernel", "ignition (32 bytes):")

	// --butane on edit stores the config, translated and checked by the daemon.
	code, _, errOut = pixie(t, d, "variant: fcos\nversion: 1.5.0\npasswd:\n  users:\n    - name: core\n", "profiles", "edit", "fcos", "--butane", "-")
	if code != 0 {
		t.Fatalf("edit --butane: exit %d, %s", code, errOut)
	}
	if err := json.Unmarshal([]byte(mustPixie(t, d, "profiles", "show", "fcos", "--json")), &p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Ignition, "variant: fcos") || p.Args != "console=ttyS0" {
		t.Errorf("after edit --butane: %+v", p)
	}
	wantContains(t, "list", mustPixie(t, d, "profiles", "list"), "fcos", "first-time")

	mustPixie(t, d, "machines", "set", "52:54:00:12:34:56", "--profile", "fcos")
	code, _, errOut = pixie(t, d, "", "profiles", "rm", "fcos")
	if code != 1 || !strings.Contains(errOut, "assigned to 1 machine") {
		t.Errorf("rm in use: exit %d, %q", code, errOut)
	}
	mustPixie(t, d, "machines", "set", "52:54:00:12:34:56", "--clear-profile")
	wantContains(t, "rm", mustPixie(t, d, "profiles", "rm", "fcos"), "profile fcos removed")
	code, _, errOut = pixie(t, d, "", "profiles", "edit", "fcos", "--args", "x")
	if code != 1 || !strings.Contains(errOut, `there is no profile "fcos"`) {
		t.Errorf("edit removed: exit %d, %q", code, errOut)
	}
}

func TestCLIBootsAndTimeline(t *testing.T) {
	d := startDaemon(t)
	wantContains(t, "no boots", mustPixie(t, d, "boots"), "no machine has tried to network-boot yet")
	const mac = "52:54:00:aa:bb:cc"
	d.record(mac, events.StageDHCP, "offer sent")
	d.record(mac, events.StageTFTP, "undionly.kpxe")
	wantContains(t, "boots", mustPixie(t, d, "boots"), "52:54:00:aa:bb:cc  (new)/first-time  tftp", "undionly.kpxe", "just now")
	var bs []api.BootSummary
	if err := json.Unmarshal([]byte(mustPixie(t, d, "boots", "--json", "--limit", "5")), &bs); err != nil {
		t.Fatal(err)
	}
	if len(bs) != 1 || bs[0].MAC != mac || bs[0].Last.Stage != "tftp" {
		t.Errorf("boots --json = %+v", bs)
	}
	out := mustPixie(t, d, "timeline", "52-54-00-AA-BB-CC")
	wantContains(t, "timeline", out, "dhcp   10.0.0.9  bios  offer sent", "tftp   10.0.0.9  bios  undionly.kpxe")
	if strings.Index(out, "offer sent") > strings.Index(out, "undionly.kpxe") {
		t.Errorf("timeline not oldest first:\n%s", out)
	}
}

// syncBuffer collects output written by a command running in another
// goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, what string, buf *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(buf.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q within 10 s in:\n%s", what, want, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCLIFollowSurvivesDaemonRestart(t *testing.T) {
	d := startDaemon(t)
	d.record("52:54:00:00:00:01", events.StageDHCP, "old boot")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--socket", d.Socket, "boots", "--follow"}, strings.NewReader(""), &out, &errOut)
	}()
	waitFor(t, "table", &out, "old boot")
	waitFor(t, "banner", &errOut, "following new boot events")
	d.record("52:54:00:00:00:02", events.StagePXE, "first live")
	waitFor(t, "live event", &out, "52:54:00:00:00:02  pxe       10.0.0.9         bios       first live")

	d.Stop()
	waitFor(t, "lost connection", &errOut, "lost the connection to the pixie daemon")
	d.record("52:54:00:00:00:03", events.StageTFTP, "while down") // stored; sent on reconnect
	d.Start()
	waitFor(t, "reconnect", &errOut, "reconnected to the pixie daemon")
	waitFor(t, "catch-up after reconnect", &out, "while down")
	d.record("52:54:00:00:00:04", events.StageScript, "after restart")
	waitFor(t, "live after reconnect", &out, "after restart")

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("follow ended with exit %d after Ctrl-C; stderr:\n%s", code, &errOut)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not end after Ctrl-C")
	}
	if n := strings.Count(out.String(), "first live"); n != 1 {
		t.Errorf("event printed %d times, want once:\n%s", n, &out)
	}
}

func TestCLIFollowJSONLines(t *testing.T) {
	d := startDaemon(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--socket", d.Socket, "--json", "boots", "-f"}, strings.NewReader(""), &out, &errOut)
	}()
	// No table and no banner with --json; wait until the stream is up by
	// recording until an event shows.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "\n") && time.Now().Before(deadline) {
		d.record("52:54:00:00:00:05", events.StageKernel, "vmlinuz")
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
	line, _, _ := strings.Cut(out.String(), "\n")
	var e api.Event
	if err := json.Unmarshal([]byte(line), &e); err != nil || e.MAC != "52:54:00:00:00:05" || e.Stage != "kernel" {
		t.Errorf("first line %q: %+v, %v", line, e, err)
	}
	if errOut.String() != "" {
		t.Errorf("stderr with --json: %q", &errOut)
	}
}

func TestCLIDaemonNotRunning(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"status", "--socket", sock}, strings.NewReader(""), &out, &errOut)
	want := "pixie daemon is not running (no socket at " + sock + "): start it with `sudo pixie serve` (or `sudo pixie start` once installed as a service)\n"
	if code != 1 || errOut.String() != want || out.Len() != 0 {
		t.Errorf("exit %d\nstderr %q\nwant   %q\nstdout %q", code, errOut.String(), want, out.String())
	}
	t.Setenv(api.SocketEnv, sock)
	code, _, errStr := pixie(t, nil, "", "machines", "list")
	if code != 1 || !strings.Contains(errStr, "no socket at "+sock) {
		t.Errorf("with $%s: exit %d, %q", api.SocketEnv, code, errStr)
	}
}

func TestCLIUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"machines", "show"}, "pixie machines show takes one MAC address, like 90:2b:34:14:f6:6a (got 0 arguments)\nRun 'pixie machines show --help' for usage.\n"},
		{[]string{"status", "extra"}, "pixie status takes no arguments, got \"extra\"\nRun 'pixie status --help' for usage.\n"},
		{[]string{"machines", "bogus"}, "unknown command \"bogus\" for \"pixie machines\": use one of list, rm, set, show\nRun 'pixie machines --help' for usage.\n"},
		{[]string{"statsu"}, "(did you mean \"status\"?)"},
		{[]string{"boots", "--limit", "0"}, "--limit 0: give a number from 1 to 10000"},
		{[]string{"boots", "--nope"}, "unknown flag: --nope\nRun 'pixie boots --help' for usage.\n"},
		{[]string{"timeline", "1:2:3"}, "invalid MAC address \"1:2:3\""},
		{[]string{"machines", "set", "52:54:00:12:34:56", "--var", "novalue"}, `--var "novalue": write it as NAME=VALUE`},
		{[]string{"profiles", "edit", "x", "--initrd", "a", "--clear-initrds"}, "give --initrd or --clear-initrds, not both"},
		{[]string{"profiles", "edit", "x", "--butane", "a", "--ignition", "b"}, "give --ignition or --butane, not both"},
		{[]string{"profiles", "edit", "x", "--phone-home", "ftp://x/up"}, `--phone-home "ftp://x/up": give an http:// or https:// URL, default (pixie's own /phone-home) or none`},
		{[]string{"profiles", "edit", "x", "--var", "bad-name=1"}, `--var "bad-name=1": write it as NAME=VALUE`},
		{[]string{"profiles", "edit", "x", "--var", "a=1", "--unset-var", "a"}, "--var a=1 and --unset-var a: give one of them"},
		{[]string{"images", "pull", "flatcar", "--keyring", "k.asc", "--no-signature"}, "give --keyring or --no-signature, not both"},
	}
	sock := filepath.Join(t.TempDir(), "none.sock") // usage is checked before connecting
	for _, tc := range cases {
		var out, errOut bytes.Buffer
		args := append([]string{"--socket", sock}, tc.args...)
		code := run(context.Background(), args, strings.NewReader(""), &out, &errOut)
		if code != 2 || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("pixie %s: exit %d, stderr %q; want exit 2 and %q", strings.Join(tc.args, " "), code, errOut.String(), tc.want)
		}
		if strings.Contains(errOut.String(), "Usage:") {
			t.Errorf("pixie %s: usage dumped on stderr", strings.Join(tc.args, " "))
		}
	}

	// The daemon judges what fits an OS (it makes the profile); a
	// setting that does not is still a command-line mistake.
	d := startDaemon(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"profiles", "add", "x", "--stream", "stable"}, "--stream, --channel and --arch choose a pulled image, for fedora-coreos and flatcar profiles; --os generic"},
		{[]string{"profiles", "add", "x", "--os", "fedora-coreos", "--channel", "beta"}, "--channel is for flatcar: Fedora CoreOS has streams, give --stream"},
		{[]string{"profiles", "add", "x", "--os", "flatcar", "--mode", "install"}, "--mode and --install-dev are for fedora-coreos (coreos-installer); --os flatcar"},
	} {
		code, _, errOut := pixie(t, d, "", tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("pixie %s: exit %d, stderr %q; want exit 2 and %q", strings.Join(tc.args, " "), code, errOut, tc.want)
		}
	}
}

func TestCLIHelp(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"status", "--help"}, {"pause", "--help"}, {"resume", "--help"}, {"machines"},
		{"machines", "set", "--help"}, {"machines", "list", "--help"}, {"machines", "show", "--help"}, {"machines", "rm", "--help"},
		{"profiles", "add", "--help"}, {"profiles", "edit", "--help"}, {"profiles", "list", "--help"}, {"profiles", "show", "--help"},
		{"profiles", "rm", "--help"}, {"boots", "--help"}, {"timeline", "--help"},
	} {
		code, out, errOut := pixie(t, nil, "", args...)
		if code != 0 || !strings.Contains(out, "Examples:") || !strings.Contains(out, "--json") || errOut != "" {
			t.Errorf("pixie %s: exit %d, stderr %q, stdout:\n%s", strings.Join(args, " "), code, errOut, out)
		}
	}
}

func TestCLIMachineLoader(t *testing.T) {
	d := startDaemon(t)
	const mac = "52:54:00:12:34:57"
	// The DHCP server stepped this machine; the CLI shows it and resets it.
	if err := d.Store.SetLoaderStep(context.Background(), mac, "ipxe", "firmware did not run snponly.efi: stepping to ipxe.efi", time.Now()); err != nil {
		t.Fatal(err)
	}
	wantContains(t, "show stepped", mustPixie(t, d, "machines", "show", mac), "loader:    auto, stepped to ipxe", "why: firmware did not run snponly.efi")
	wantContains(t, "list stepped", mustPixie(t, d, "machines", "list"), "auto>ipxe")
	wantContains(t, "reset", mustPixie(t, d, "machines", "set", mac, "--loader", "auto"), "machine "+mac+" updated: the default profile")
	var m api.Machine
	if err := json.Unmarshal([]byte(mustPixie(t, d, "--json", "machines", "show", mac)), &m); err != nil {
		t.Fatal(err)
	}
	if m.Loader != "auto" || m.LoaderStep != "" || m.LoaderReason != "" {
		t.Errorf("after --loader auto: %+v", m)
	}
	wantContains(t, "pin", mustPixie(t, d, "machines", "set", mac, "--loader", "grub"), "loader grub")
	code, _, errOut := pixie(t, d, "", "machines", "set", mac, "--loader", "pxelinux")
	if code == 0 || !strings.Contains(errOut, "--loader \"pxelinux\": use auto") {
		t.Errorf("bad --loader: exit %d, stderr %q", code, errOut)
	}
}
