// Package loginitem turns starting the menu-bar app at login on and off
// for the user who runs it: a LaunchAgent in ~/Library/LaunchAgents on
// macOS, an XDG autostart entry in ~/.config/autostart on Linux. Both are
// plain files the session reads at the next login, so turning the item on
// or off never starts or stops a running tray (a bootstrap would start a
// second one; a bootout would end the one asking).
//
// It is opt-in: the installer adds no login item; `pixie-tray --login-item
// on` does.
package loginitem

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"howett.net/plist"
)

// Label is the LaunchAgent's label; AppBundleID the app's
// CFBundleIdentifier, so System Settings › Login Items shows "Pixie".
const (
	Label       = "dev.pixie.tray"
	AppBundleID = "dev.pixie.Pixie"
)

// Item is the login item of one user on one OS.
type Item struct {
	GOOS string
	Home string // the user's home directory
	// Exe is the tray binary the session starts (absolute).
	Exe string
}

// Path is the file that makes the login item.
func (it Item) Path() string {
	if it.GOOS == "darwin" {
		return filepath.Join(it.Home, "Library", "LaunchAgents", Label+".plist")
	}
	// $XDG_CONFIG_HOME is not followed: the session reads ~/.config
	// unless it was moved, and a moved one is the user's to manage.
	return filepath.Join(it.Home, ".config", "autostart", "pixie-tray.desktop")
}

// launchAgent is the LaunchAgent property list (launchd.plist(5)).
type launchAgent struct {
	Label            string   `plist:"Label"`
	ProgramArguments []string `plist:"ProgramArguments"`
	// RunAtLoad starts it at login; no KeepAlive: Quit in the menu
	// means quit, not "restart in ten seconds".
	RunAtLoad bool `plist:"RunAtLoad"`
	// Aqua: only in graphical login sessions, not over ssh.
	LimitLoadToSessionType string `plist:"LimitLoadToSessionType"`
	ProcessType            string `plist:"ProcessType"`
	// AssociatedBundleIdentifiers (macOS 13+) names the app in Login
	// Items instead of an anonymous item.
	AssociatedBundleIdentifiers []string `plist:"AssociatedBundleIdentifiers,omitempty"`
}

// Content is the file's content for the item.
func (it Item) Content() ([]byte, error) {
	if !filepath.IsAbs(it.Exe) {
		return nil, fmt.Errorf("the login item needs the tray's absolute path, not %q", it.Exe)
	}
	if strings.Contains(it.Exe, "/AppTranslocation/") {
		return nil, errors.New("Pixie runs from a temporary copy macOS made (App Translocation): move Pixie.app to /Applications, open it from there, then turn the login item on")
	}
	if it.GOOS == "darwin" {
		a := launchAgent{Label: Label, ProgramArguments: []string{it.Exe}, RunAtLoad: true,
			LimitLoadToSessionType: "Aqua", ProcessType: "Interactive"}
		if strings.Contains(it.Exe, ".app/Contents/MacOS/") {
			a.AssociatedBundleIdentifiers = []string{AppBundleID}
		}
		out, err := plist.MarshalIndent(a, plist.XMLFormat, "\t")
		if err != nil {
			return nil, fmt.Errorf("render the LaunchAgent: %w", err)
		}
		return append(out, '\n'), nil
	}
	// Desktop Entry Specification: Exec takes the path quoted when it
	// has a space or a quote; inside the quotes " ` $ and \ take a
	// backslash, and the string escape rule applies first, so a literal
	// backslash is four. A literal % would be a field code: doubled.
	exe := strings.ReplaceAll(it.Exe, "%", "%%")
	if strings.ContainsAny(exe, " \t\"'\\$`") {
		exe = `"` + strings.NewReplacer(`\`, `\\\\`, `"`, `\\"`, "$", `\\$`, "`", "\\\\`").Replace(exe) + `"`
	}
	return []byte("[Desktop Entry]\nType=Application\nName=pixie\nComment=pixie's menu: network boot status and recently booted machines\n" +
		"Exec=" + exe + "\nIcon=network-wired\nTerminal=false\nX-GNOME-Autostart-enabled=true\n"), nil
}

// State is whether the login item is on, and for which binary.
type State struct {
	On   bool
	Path string
	// Stale: the item starts another binary than this one (the app was
	// moved, or another copy installed it).
	Stale bool
}

// Read says whether the item is on.
func (it Item) Read() (State, error) {
	st := State{Path: it.Path()}
	got, err := os.ReadFile(st.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return st, nil
	case err != nil:
		return st, fmt.Errorf("read the login item %s: %v", st.Path, unwrapPath(err))
	}
	st.On = true
	want, err := it.Content()
	st.Stale = err == nil && string(want) != string(got)
	return st, nil
}

// Set turns the item on (writing its file) or off (removing it), and
// returns the state after.
func (it Item) Set(on bool) (State, error) {
	p := it.Path()
	if !on {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return State{On: true, Path: p}, fmt.Errorf("remove the login item %s: %v", p, unwrapPath(err))
		}
		return State{Path: p}, nil
	}
	content, err := it.Content()
	if err != nil {
		return State{Path: p}, err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return State{Path: p}, fmt.Errorf("create %s for the login item: %v", filepath.Dir(p), unwrapPath(err))
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, content, 0o644); err != nil {
		return State{Path: p}, fmt.Errorf("write the login item %s: %v", p, unwrapPath(err))
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return State{Path: p}, fmt.Errorf("write the login item %s: %v", p, unwrapPath(err))
	}
	return State{On: true, Path: p}, nil
}

// unwrapPath drops the *fs.PathError's "open PATH:" (the message names the
// path already).
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
