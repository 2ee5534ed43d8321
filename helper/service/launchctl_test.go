package service

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	kservice "github.com/kardianos/service"
)

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "launchctl", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseLaunchctlPrint(t *testing.T) {
	cases := []struct {
		file       string
		want       launchdJob
		status     string
		detailHas  string
		wantErrHas string
	}{
		{file: "running.txt", want: launchdJob{State: "running", PID: 412, LastExit: "(never exited)", Path: LaunchdPlistPath}, status: "running", detailHas: "pid 412"},
		{file: "stopped.txt", want: launchdJob{State: "not running", LastExit: "0", Path: LaunchdPlistPath}, status: "stopped", detailHas: `"not running"`},
		{file: "crashloop.txt", want: launchdJob{State: "spawn scheduled", LastExit: "1", Path: LaunchdPlistPath}, status: "failed", detailHas: "last exit code 1"},
		{file: "killed.txt", want: launchdJob{State: "not running", LastExit: "(never exited)", LastSignal: "Killed: 9", Path: LaunchdPlistPath}, status: "failed", detailHas: "Killed: 9"},
		{file: "notloaded.txt", wantErrHas: "no job state"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			got, err := parseLaunchctlPrint(fixture(t, c.file))
			if c.wantErrHas != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErrHas) {
					t.Fatalf("err = %v, want %q", err, c.wantErrHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Fatalf("parse (-want +got):\n%s", d)
			}
			status, detail := got.Status()
			if status != c.status || !strings.Contains(detail, c.detailHas) {
				t.Fatalf("Status = %q, %q; want %q with %q", status, detail, c.status, c.detailHas)
			}
		})
	}
}

// fakeLaunchd answers `launchctl print` from a fixture and records every
// other call; calls that change the job move it between fixtures the way
// launchd would.
type fakeLaunchd struct {
	t     *testing.T
	print string // fixture name; "" is not loaded
	fail  map[string]string
	calls []string
}

func (f *fakeLaunchd) run(args ...string) (string, int, error) {
	call := strings.Join(args, " ")
	if args[0] == "print" {
		if f.print == "" {
			return fixture(f.t, "notloaded.txt"), launchctlNotFound, nil
		}
		return fixture(f.t, f.print), 0, nil
	}
	f.calls = append(f.calls, call)
	if msg, ok := f.fail[args[0]]; ok {
		return msg, 5, nil
	}
	switch args[0] {
	case "bootstrap", "kickstart":
		f.print = "running.txt"
	case "bootout":
		f.print = ""
	}
	return "", 0, nil
}

type plistOnly struct{ Controller }

func (plistOnly) Platform() string { return "darwin-launchd" }

func TestLaunchctlControl(t *testing.T) {
	const plist = "/Library/LaunchDaemons/dev.pixie.daemon.plist"
	cases := []struct {
		name    string
		from    string
		op      func(*launchctlCtl) error
		calls   []string
		fail    map[string]string
		errHas  string
		endedAs string
	}{
		{name: "start loads a job that is not loaded", op: (*launchctlCtl).Start, calls: []string{"bootstrap system " + plist}, endedAs: "running.txt"},
		{name: "start of a running job does nothing", from: "running.txt", op: (*launchctlCtl).Start, endedAs: "running.txt"},
		{name: "start of a loaded, stopped job kickstarts it", from: "stopped.txt", op: (*launchctlCtl).Start, calls: []string{"kickstart system/dev.pixie.daemon"}, endedAs: "running.txt"},
		{name: "stop boots the job out", from: "running.txt", op: (*launchctlCtl).Stop, calls: []string{"bootout system/dev.pixie.daemon"}},
		{name: "stop of a job not loaded is done", op: (*launchctlCtl).Stop},
		{name: "restart is one kickstart -k", from: "running.txt", op: (*launchctlCtl).Restart, calls: []string{"kickstart -k system/dev.pixie.daemon"}, endedAs: "running.txt"},
		{name: "restart of a crash-looping job", from: "crashloop.txt", op: (*launchctlCtl).Restart, calls: []string{"kickstart -k system/dev.pixie.daemon"}, endedAs: "running.txt"},
		{name: "restart of a job not loaded loads it", op: (*launchctlCtl).Restart, calls: []string{"bootstrap system " + plist}, endedAs: "running.txt"},
		{
			name: "a failed kickstart leaves the job loaded and says why", from: "running.txt", op: (*launchctlCtl).Restart,
			fail:   map[string]string{"kickstart": "Could not kickstart service \"dev.pixie.daemon\": 1: Operation not permitted\n"},
			calls:  []string{"kickstart -k system/dev.pixie.daemon"},
			errHas: "`launchctl kickstart -k system/dev.pixie.daemon` failed (exit 5): Could not kickstart", endedAs: "running.txt",
		},
		{
			name: "a failed bootstrap says why", op: (*launchctlCtl).Start,
			fail:   map[string]string{"bootstrap": "Bootstrap failed: 5: Input/output error\n"},
			calls:  []string{"bootstrap system " + plist},
			errHas: "Bootstrap failed: 5",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeLaunchd{t: t, print: c.from, fail: c.fail}
			ctl := newLaunchctl(plistOnly{}, plist, f.run)
			err := c.op(ctl)
			if c.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), c.errHas) {
					t.Fatalf("err = %v, want %q", err, c.errHas)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(c.calls, f.calls); d != "" {
				t.Errorf("launchctl calls (-want +got):\n%s", d)
			}
			if f.print != c.endedAs {
				t.Errorf("job ended as %q, want %q", f.print, c.endedAs)
			}
		})
	}
}

func TestLaunchctlState(t *testing.T) {
	cases := []struct {
		from           string
		status, detail string
		ks             kservice.Status
	}{
		{"running.txt", "running", "pid 412", kservice.StatusRunning},
		{"crashloop.txt", "failed", `launchd state "spawn scheduled", last exit code 1; see /Library/Logs/Pixie/pixie.log`, kservice.StatusStopped},
		{"", "stopped", "not loaded in launchd: `sudo pixie start` loads it", kservice.StatusStopped},
	}
	for _, c := range cases {
		f := &fakeLaunchd{t: t, print: c.from}
		ctl := newLaunchctl(plistOnly{}, LaunchdPlistPath, f.run)
		status, detail, err := ctl.State()
		if err != nil || status != c.status || detail != c.detail {
			t.Errorf("%q: State = %q, %q, %v; want %q, %q", c.from, status, detail, err, c.status, c.detail)
		}
		if ks, err := ctl.Status(); err != nil || ks != c.ks {
			t.Errorf("%q: Status = %v, %v; want %v", c.from, ks, err, c.ks)
		}
	}
	// launchctl itself missing or unrunnable is an error, not "stopped".
	ctl := newLaunchctl(plistOnly{}, LaunchdPlistPath, func(...string) (string, int, error) {
		return "", -1, errors.New("run launchctl: exec: \"launchctl\": executable file not found in $PATH")
	})
	if st, _, err := ctl.State(); err == nil || st != "unknown" {
		t.Errorf("without launchctl: State = %q, %v; want unknown and an error", st, err)
	}
}

func TestLaunchctlUninstallRemovesPlist(t *testing.T) {
	plist := filepath.Join(t.TempDir(), "dev.pixie.daemon.plist")
	if err := os.WriteFile(plist, []byte("<plist/>"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := &fakeLaunchd{t: t, print: "running.txt"}
	if err := newLaunchctl(plistOnly{}, plist, f.run).Uninstall(); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"bootout system/dev.pixie.daemon"}, f.calls); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
	if _, err := os.Stat(plist); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("plist still there: %v", err)
	}
}
