package service

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"howett.net/plist"
)

// LaunchdJob is the LaunchDaemon property list pixie installs (see
// launchd.plist(5)). Only the keys pixie sets are here.
type LaunchdJob struct {
	Label            string   `plist:"Label"`
	ProgramArguments []string `plist:"ProgramArguments"`
	// RunAtLoad starts the daemon at boot; KeepAlive restarts it whenever it
	// exits, after ThrottleInterval seconds (launchd's default is 10).
	RunAtLoad         bool   `plist:"RunAtLoad"`
	KeepAlive         bool   `plist:"KeepAlive"`
	ThrottleInterval  int    `plist:"ThrottleInterval"`
	StandardOutPath   string `plist:"StandardOutPath"`
	StandardErrorPath string `plist:"StandardErrorPath"`
	// WorkingDirectory is "/": launchd's default is also "/", but saying so
	// keeps a relative path in the flags from meaning something by chance.
	WorkingDirectory string `plist:"WorkingDirectory"`
	// AssociatedBundleIdentifiers (macOS 13+) makes System Settings ›
	// General › Login Items show the daemon as Pixie, with the app's
	// icon, instead of an anonymous background item. Set when the daemon
	// runs from inside Pixie.app.
	AssociatedBundleIdentifiers []string `plist:"AssociatedBundleIdentifiers,omitempty"`
}

// AppBundleID is Pixie.app's CFBundleIdentifier (packaging/macos.BundleID
// says the same; packaging imports this package, not the other way).
const AppBundleID = "dev.pixie.Pixie"

// Job returns the LaunchDaemon for spec: root (a LaunchDaemon without
// UserName runs as root), started at boot, kept alive. A daemon that
// writes its own log (--log-file, as Settings.Spec sets on macOS) has its
// stdout and stderr in LaunchdOutputFile; one that does not, in
// LaunchdLogFile.
func (s Spec) Job() (LaunchdJob, error) {
	if !path.IsAbs(s.Executable) {
		return LaunchdJob{}, fmt.Errorf("the LaunchDaemon needs the pixie binary's absolute path, not %q", s.Executable)
	}
	var bundles []string
	if strings.Contains(s.Executable, ".app/Contents/MacOS/") {
		bundles = []string{AppBundleID}
	}
	output := LaunchdLogFile
	if slices.Contains(s.Args, "--log-file") {
		output = LaunchdOutputFile
	}
	return LaunchdJob{
		AssociatedBundleIdentifiers: bundles,
		Label:                       LaunchdLabel,
		ProgramArguments:            append([]string{s.Executable}, s.Args...),
		RunAtLoad:                   true,
		KeepAlive:                   true,
		ThrottleInterval:            5,
		StandardOutPath:             output,
		StandardErrorPath:           output,
		WorkingDirectory:            "/",
	}, nil
}

// LaunchdPlist renders the LaunchDaemon for spec as an XML property list.
func LaunchdPlist(spec Spec) ([]byte, error) {
	job, err := spec.Job()
	if err != nil {
		return nil, err
	}
	out, err := plist.MarshalIndent(job, plist.XMLFormat, "\t")
	if err != nil {
		return nil, fmt.Errorf("render the LaunchDaemon plist: %w", err)
	}
	return append(out, '\n'), nil
}

// parseLaunchdArgs returns the arguments after the executable in an
// installed plist.
func parseLaunchdArgs(content []byte) ([]string, error) {
	var job LaunchdJob
	if _, err := plist.Unmarshal(content, &job); err != nil {
		return nil, err
	}
	if len(job.ProgramArguments) == 0 {
		return nil, fmt.Errorf("no ProgramArguments")
	}
	return job.ProgramArguments, nil
}
