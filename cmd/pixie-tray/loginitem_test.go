package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoginItemFlag(t *testing.T) {
	home := t.TempDir()
	env := loginItemEnv{goos: "darwin", euid: 501,
		home: func() (string, error) { return home, nil },
		exe:  func() (string, error) { return "/Applications/Pixie.app/Contents/MacOS/pixie-tray", nil }}
	plistPath := filepath.Join(home, "Library/LaunchAgents/dev.pixie.tray.plist")
	steps := []struct {
		arg, want string
		code      int
		exists    bool
	}{
		{"status", "the login item is off", 0, false},
		{"on", "pixie's menu will start at your next login (" + plistPath + ")", 0, true},
		{"status", "the login item is on", 0, true},
		{"off", "will not start at login any more", 0, false},
		{"maybe", `--login-item "maybe": use on, off or status`, 2, false},
	}
	for _, s := range steps {
		var out bytes.Buffer
		code := loginItem(env, s.arg, &out)
		if code != s.code || !strings.Contains(out.String(), s.want) {
			t.Errorf("--login-item %s: exit %d, %q; want %d and %q", s.arg, code, out.String(), s.code, s.want)
		}
		if _, err := os.Stat(plistPath); (err == nil) != s.exists {
			t.Errorf("after --login-item %s: LaunchAgent exists %v, want %v", s.arg, err == nil, s.exists)
		}
	}

	// Another copy of the app installed the item.
	loginItem(env, "on", &bytes.Buffer{})
	moved := env
	moved.exe = func() (string, error) { return "/Users/ada/Applications/Pixie.app/Contents/MacOS/pixie-tray", nil }
	var out bytes.Buffer
	if loginItem(moved, "status", &out); !strings.Contains(out.String(), "starts another pixie-tray") {
		t.Errorf("stale item: %q", out.String())
	}

	for _, c := range []struct {
		env  loginItemEnv
		want string
	}{
		{func() loginItemEnv { e := env; e.euid = 0; return e }(), "as yourself, without sudo"},
		{func() loginItemEnv {
			e := env
			e.home = func() (string, error) { return "", errors.New("$HOME is not defined") }
			return e
		}(), "set HOME"},
		{func() loginItemEnv {
			e := env
			e.exe = func() (string, error) {
				return "/private/var/folders/q/AppTranslocation/X/d/Pixie.app/Contents/MacOS/pixie-tray", nil
			}
			return e
		}(), "move Pixie.app to /Applications"},
	} {
		var out bytes.Buffer
		if code := loginItem(c.env, "on", &out); code != 1 || !strings.Contains(out.String(), c.want) {
			t.Errorf("exit %d, %q; want 1 and %q", code, out.String(), c.want)
		}
	}
}

func TestMenuLoginItem(t *testing.T) {
	home := t.TempDir()
	env := loginItemEnv{goos: "linux", euid: 1000,
		home: func() (string, error) { return home, nil },
		exe:  func() (string, error) { return "/usr/local/bin/pixie-tray", nil }}
	it, ok := menuLoginItem(env)
	if !ok || it.Path() != filepath.Join(home, ".config/autostart/pixie-tray.desktop") || it.Exe != "/usr/local/bin/pixie-tray" {
		t.Errorf("menuLoginItem = %+v, %v", it, ok)
	}
	for _, e := range []loginItemEnv{
		func() loginItemEnv { e := env; e.euid = 0; return e }(),
		func() loginItemEnv { e := env; e.goos = "windows"; return e }(),
		func() loginItemEnv { e := env; e.home = func() (string, error) { return "", nil }; return e }(),
	} {
		if _, ok := menuLoginItem(e); ok {
			t.Errorf("a toggle for %+v", e)
		}
	}
}
