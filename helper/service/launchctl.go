package service

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	kservice "github.com/kardianos/service"
)

// kardianos/service drives launchd with the legacy subcommands: `launchctl
// list LABEL` (which, run by a non-root user, looks in that user's domain
// and so reports a running system daemon as stopped), and restart as
// unload + load (a failed load leaves the daemon unloaded). launchctlCtl
// keeps the library for writing the plist and speaks the domain-target
// subcommands itself: print, bootstrap, bootout, kickstart.

// launchctlNotFound is launchctl's exit status when the service is not
// loaded in the domain (EX_UNAVAILABLE-style 113: "Could not find
// service").
const launchctlNotFound = 113

// launchdJob is what `launchctl print system/LABEL` says about a loaded
// job.
type launchdJob struct {
	// State is launchd's word: "running", "not running", "spawn
	// scheduled", "exited", ...
	State string
	PID   int // 0 when not running
	// LastExit is the "last exit code" line as printed: "(never exited)",
	// "0", "1", "78: EX_CONFIG".
	LastExit string
	// LastSignal is the "last terminating signal" line, if any.
	LastSignal string
	Path       string // the plist launchd loaded
}

// parseLaunchctlPrint reads the top-level "key = value" lines of `launchctl
// print` output (see launchctl(1)). Nested blocks (arguments, environment,
// endpoints ...) are skipped: their keys are not the job's.
func parseLaunchctlPrint(out string) (launchdJob, error) {
	var job launchdJob
	depth, seen := 0, false
	for line := range strings.Lines(out) {
		l := strings.TrimSpace(line)
		if strings.HasSuffix(l, "{") {
			depth++
			seen = true
			continue
		}
		if l == "}" {
			depth--
			continue
		}
		if depth != 1 {
			continue
		}
		k, v, ok := strings.Cut(l, " = ")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "state":
			job.State = v
		case "pid":
			if n, err := strconv.Atoi(v); err == nil {
				job.PID = n
			}
		case "last exit code":
			job.LastExit = v
		case "last terminating signal":
			job.LastSignal = v
		case "path":
			job.Path = v
		}
	}
	if !seen || job.State == "" {
		return job, errors.New("launchctl print gave no job state")
	}
	return job, nil
}

// Status maps the job to pixie's words (running, stopped, failed) and a
// detail line for people.
func (j launchdJob) Status() (status, detail string) {
	if j.State == "running" && j.PID > 0 {
		return "running", fmt.Sprintf("pid %d", j.PID)
	}
	exit := j.LastExit
	if i := strings.IndexByte(exit, ':'); i >= 0 {
		exit = exit[:i]
	}
	switch {
	case j.LastSignal != "":
		return "failed", fmt.Sprintf("launchd state %q, last terminated by %s", j.State, j.LastSignal)
	case exit != "" && exit != "0" && !strings.HasPrefix(exit, "("):
		return "failed", fmt.Sprintf("launchd state %q, last exit code %s; see %s", j.State, j.LastExit, LaunchdLogFile)
	}
	return "stopped", fmt.Sprintf("launchd state %q", j.State)
}

// runFunc runs launchctl with args and returns its combined output and
// exit status; err is set only when it could not run at all.
type runFunc func(args ...string) (out string, code int, err error)

func runLaunchctl(args ...string) (string, int, error) {
	out, err := exec.Command("launchctl", args...).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode(), nil
	}
	if err != nil {
		what := "launchctl could not be run"
		if errors.Is(err, exec.ErrNotFound) {
			what = "launchctl is not on this system's PATH"
		}
		return string(out), -1, &wordedError{msg: what + ": the LaunchDaemon needs macOS's /bin/launchctl; without it run `sudo pixie serve` yourself", err: err}
	}
	return string(out), 0, nil
}

// launchctlCtl is the Controller for the system LaunchDaemon.
type launchctlCtl struct {
	inner Controller // writes the plist (Install) and names the platform
	label string
	plist string
	run   runFunc
}

func newLaunchctl(inner Controller, plist string, run runFunc) *launchctlCtl {
	if run == nil {
		run = runLaunchctl
	}
	return &launchctlCtl{inner: inner, label: LaunchdLabel, plist: plist, run: run}
}

func (c *launchctlCtl) target() string { return "system/" + c.label }

func (c *launchctlCtl) Platform() string { return c.inner.Platform() }
func (c *launchctlCtl) Install() error   { return c.inner.Install() }

// Uninstall takes the job out of launchd and removes the plist (the
// library's Uninstall would unload with the legacy command).
func (c *launchctlCtl) Uninstall() error {
	if err := c.Stop(); err != nil {
		return err
	}
	if err := os.Remove(c.plist); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", c.plist, err)
	}
	return nil
}

// loaded asks launchd for the job; nil job means it is not loaded.
func (c *launchctlCtl) loaded() (*launchdJob, error) {
	out, code, err := c.run("print", c.target())
	if err != nil {
		return nil, err
	}
	if code == launchctlNotFound || (code != 0 && strings.Contains(out, "Could not find service")) {
		return nil, nil
	}
	if code != 0 {
		return nil, launchctlError("print", c.target(), code, out)
	}
	job, err := parseLaunchctlPrint(out)
	if err != nil {
		return nil, &wordedError{msg: fmt.Sprintf("`launchctl print %s` printed something this pixie does not understand (%v): check the job with `%s`", c.target(), err, CheckCommand("darwin")), err: err}
	}
	return &job, nil
}

// Start loads the job (launchd then starts it: RunAtLoad), or, when it is
// loaded already, starts it if it is not running.
func (c *launchctlCtl) Start() error {
	job, err := c.loaded()
	if err != nil {
		return err
	}
	if job == nil {
		return c.do("bootstrap", "system", c.plist)
	}
	if job.State == "running" {
		return nil
	}
	return c.do("kickstart", c.target())
}

// Stop takes the job out of launchd until the next boot or Start; a job
// that is not loaded is already stopped. (Killing it would not do: it is
// KeepAlive.)
func (c *launchctlCtl) Stop() error {
	job, err := c.loaded()
	if err != nil {
		return err
	}
	if job == nil {
		return nil
	}
	return c.do("bootout", c.target())
}

// Restart kills and starts the loaded job in one launchd operation, so a
// failure never leaves it unloaded; a job that is not loaded is loaded.
func (c *launchctlCtl) Restart() error {
	job, err := c.loaded()
	if err != nil {
		return err
	}
	if job == nil {
		return c.do("bootstrap", "system", c.plist)
	}
	return c.do("kickstart", "-k", c.target())
}

func (c *launchctlCtl) Status() (kservice.Status, error) {
	st, _, err := c.State()
	switch {
	case err != nil:
		return kservice.StatusUnknown, err
	case st == "running":
		return kservice.StatusRunning, nil
	default:
		return kservice.StatusStopped, nil
	}
}

// State is pixie's status word and launchd's detail, for Manager.State.
func (c *launchctlCtl) State() (status, detail string, err error) {
	job, err := c.loaded()
	if err != nil {
		return "unknown", "", err
	}
	if job == nil {
		return "stopped", "not loaded in launchd: `sudo pixie start` loads it", nil
	}
	status, detail = job.Status()
	return status, detail, nil
}

func (c *launchctlCtl) do(args ...string) error {
	out, code, err := c.run(args...)
	if err != nil {
		return err
	}
	if code != 0 {
		return launchctlError(args[0], strings.Join(args[1:], " "), code, out)
	}
	return nil
}

func launchctlError(verb, target string, code int, out string) error {
	msg := strings.TrimSpace(out)
	if msg == "" {
		msg = "no output"
	}
	return fmt.Errorf("`launchctl %s %s` failed (exit %d): %s; see `%s` and %s", verb, target, code, msg, CheckCommand("darwin"), LaunchdLogFile)
}
