package service

import (
	"errors"
	"io/fs"
	"os/exec"
	"strings"
	"testing"

	kservice "github.com/kardianos/service"
)

// failingCtl is a service manager that refuses to start.
type failingCtl struct {
	fakeCtl
	err error
}

func (f *failingCtl) Start() error   { return f.err }
func (f *failingCtl) Restart() error { return f.err }

func TestManagerFailuresAreWorded(t *testing.T) {
	root := t.TempDir()
	var calls []string
	systemctlSaid := errors.New(`"systemctl" failed: exit status 1, Job for pixie.service failed because the control process exited with error code.`)
	m := &Manager{GOOS: "linux", Root: root, EnsureGroup: func(string) (bool, error) { return false, nil },
		Controller: func(cfg *kservice.Config) (Controller, error) {
			content, _ := cfg.Option["SystemdScript"].(string)
			return &failingCtl{fakeCtl: fakeCtl{file: root + SystemdUnitPath, content: content, calls: &calls, platform: "linux-systemd"}, err: systemctlSaid}, nil
		}}
	spec, _ := Settings{}.Spec("linux", "/usr/local/bin/pixie")
	if _, err := m.Install(spec, false); err != nil {
		t.Fatal(err)
	}
	err := m.Restart()
	want := `restart the pixie service: systemd said "\"systemctl\" failed: exit status 1, Job for pixie.service failed because the control process exited with error code."; see ` + "`systemctl status pixie`"
	if err == nil || err.Error() != want || !errors.Is(err, systemctlSaid) {
		t.Errorf("restart failure:\n got %v\nwant %s", err, want)
	}

	// launchctl's own failures name the check command already: not twice.
	worded := errors.New("`launchctl kickstart -k system/dev.pixie.daemon` failed (exit 113): Could not find service; see `sudo launchctl print system/dev.pixie.daemon` and /Library/Logs/Pixie/pixie.log")
	got := managerFailed("darwin", "restart the pixie service", worded).Error()
	if strings.Count(got, "launchctl print") != 1 || !strings.HasPrefix(got, "restart the pixie service: `launchctl kickstart") {
		t.Errorf("darwin: %s", got)
	}

	// The CLI still finds a path error inside, to reword it.
	pe := &fs.PathError{Op: "open", Path: "/etc/systemd/system/pixie.service", Err: fs.ErrPermission}
	var found *fs.PathError
	if !errors.As(managerFailed("linux", "install the systemd service", pe), &found) {
		t.Error("the path error is hidden")
	}
}

func TestRunLaunchctlMissing(t *testing.T) {
	if _, err := exec.LookPath("launchctl"); err == nil {
		t.Skip("launchctl is installed here")
	}
	t.Setenv("PATH", t.TempDir())
	_, code, err := runLaunchctl("print", "system/"+LaunchdLabel)
	if code != -1 || err == nil || err.Error() != "launchctl is not on this system's PATH: the LaunchDaemon needs macOS's /bin/launchctl; without it run `sudo pixie serve` yourself" || !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("runLaunchctl without launchctl: %d, %v", code, err)
	}
}
