package loginitem

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"howett.net/plist"
)

const appTray = "/Applications/Pixie.app/Contents/MacOS/pixie-tray"

func TestLaunchAgent(t *testing.T) {
	it := Item{GOOS: "darwin", Home: "/Users/ada", Exe: appTray}
	if got, want := it.Path(), "/Users/ada/Library/LaunchAgents/dev.pixie.tray.plist"; got != want {
		t.Errorf("Path = %q, want %q", got, want)
	}
	data, err := it.Content()
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if format, err := plist.Unmarshal(data, &got); err != nil || format != plist.XMLFormat {
		t.Fatalf("the LaunchAgent does not parse as an XML plist (%v):\n%s", err, data)
	}
	want := map[string]any{
		"Label":                       "dev.pixie.tray",
		"ProgramArguments":            []any{appTray},
		"RunAtLoad":                   true,
		"LimitLoadToSessionType":      "Aqua",
		"ProcessType":                 "Interactive",
		"AssociatedBundleIdentifiers": []any{"dev.pixie.Pixie"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LaunchAgent (-want +got):\n%s", diff)
	}
	// A tray outside the app (make build) names no bundle.
	plain, _ := Item{GOOS: "darwin", Home: "/Users/ada", Exe: "/usr/local/bin/pixie-tray"}.Content()
	if strings.Contains(string(plain), "AssociatedBundleIdentifiers") {
		t.Errorf("a plain binary's LaunchAgent names a bundle:\n%s", plain)
	}
}

func TestAutostartEntry(t *testing.T) {
	cases := []struct{ exe, exec string }{
		{"/usr/local/bin/pixie-tray", "Exec=/usr/local/bin/pixie-tray\n"},
		{"/opt/my tools/pixie-tray", `Exec="/opt/my tools/pixie-tray"` + "\n"},
		{"/opt/100%/pixie-tray", "Exec=/opt/100%%/pixie-tray\n"},
		// Quoting, then the string escape rule: \" for ", \\\\ for \.
		{`/opt/a"b\c/pixie-tray`, `Exec="/opt/a\\"b\\\\c/pixie-tray"` + "\n"},
	}
	for _, c := range cases {
		it := Item{GOOS: "linux", Home: "/home/ada", Exe: c.exe}
		if got, want := it.Path(), "/home/ada/.config/autostart/pixie-tray.desktop"; got != want {
			t.Errorf("Path = %q, want %q", got, want)
		}
		data, err := it.Content()
		if err != nil {
			t.Fatal(err)
		}
		s := string(data)
		if !strings.HasPrefix(s, "[Desktop Entry]\nType=Application\n") || !strings.Contains(s, c.exec) {
			t.Errorf("%s: entry\n%s\nwant a Desktop Entry with %q", c.exe, s, c.exec)
		}
	}
}

func TestContentRefuses(t *testing.T) {
	for _, c := range []struct{ exe, want string }{
		{"pixie-tray", "absolute path"},
		{"/private/var/folders/x/AppTranslocation/ABC/d/Pixie.app/Contents/MacOS/pixie-tray", "move Pixie.app to /Applications"},
	} {
		if _, err := (Item{GOOS: "darwin", Home: "/Users/ada", Exe: c.exe}).Content(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.exe, err, c.want)
		}
	}
}

func TestSetAndRead(t *testing.T) {
	for _, goos := range []string{"darwin", "linux"} {
		t.Run(goos, func(t *testing.T) {
			home := t.TempDir()
			it := Item{GOOS: goos, Home: home, Exe: appTray}
			st, err := it.Read()
			if err != nil || st.On {
				t.Fatalf("fresh home: %+v, %v", st, err)
			}
			if st, err = it.Set(true); err != nil || !st.On {
				t.Fatalf("Set(true) = %+v, %v", st, err)
			}
			data, err := os.ReadFile(it.Path())
			if err != nil {
				t.Fatal(err)
			}
			want, _ := it.Content()
			if string(data) != string(want) {
				t.Errorf("written file differs from Content")
			}
			if fi, _ := os.Stat(it.Path()); fi.Mode().Perm() != 0o644 {
				t.Errorf("mode %v, want 0644", fi.Mode().Perm())
			}
			if st, _ = it.Read(); !st.On || st.Stale {
				t.Errorf("after on: %+v", st)
			}
			// The app moved: the item starts a binary that is not this one.
			moved := it
			moved.Exe = "/Users/ada/Applications/Pixie.app/Contents/MacOS/pixie-tray"
			if st, _ = moved.Read(); !st.On || !st.Stale {
				t.Errorf("after the app moved: %+v, want on and stale", st)
			}
			// On again is harmless; off removes it, twice is harmless.
			if _, err := it.Set(true); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if st, err = it.Set(false); err != nil || st.On {
					t.Fatalf("Set(false) = %+v, %v", st, err)
				}
			}
			if _, err := os.Stat(it.Path()); !os.IsNotExist(err) {
				t.Errorf("the file is still there: %v", err)
			}
			if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(it.Path()), "*.tmp")); len(leftovers) > 0 {
				t.Errorf("temporary files left: %v", leftovers)
			}
		})
	}
}

func TestSetErrors(t *testing.T) {
	home := t.TempDir()
	// ~/Library is a file: the LaunchAgents folder cannot be made.
	if err := os.WriteFile(filepath.Join(home, "Library"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Item{GOOS: "darwin", Home: home, Exe: appTray}.Set(true)
	if err == nil || !strings.HasPrefix(err.Error(), "create "+filepath.Join(home, "Library", "LaunchAgents")+" for the login item: ") || strings.Contains(err.Error(), "mkdir ") {
		t.Errorf("Set under a file: %v", err)
	}
}
