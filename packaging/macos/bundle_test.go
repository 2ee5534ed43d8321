package macos

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"howett.net/plist"

	"github.com/pixie-boot/pixie/helper/service"
)

func TestInfoPlist(t *testing.T) {
	data, err := InfoPlist("v1.4.2-3-gdeadbee-dirty")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if format, err := plist.Unmarshal(data, &got); err != nil || format != plist.XMLFormat {
		t.Fatalf("Info.plist does not parse as XML (%d): %v\n%s", format, err, data)
	}
	want := map[string]any{
		"CFBundleName":                  "Pixie",
		"CFBundleDisplayName":           "Pixie",
		"CFBundleIdentifier":            "dev.pixie.Pixie",
		"CFBundleExecutable":            "pixie-tray",
		"CFBundlePackageType":           "APPL",
		"CFBundleInfoDictionaryVersion": "6.0",
		"CFBundleVersion":               "1.4.2",
		"CFBundleShortVersionString":    "1.4.2",
		"LSMinimumSystemVersion":        "12.0",
		"LSUIElement":                   true,
		"NSHighResolutionCapable":       true,
		"NSHumanReadableCopyright":      "Apache License 2.0",
		"PixieVersion":                  "v1.4.2-3-gdeadbee-dirty",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Info.plist (-want +got):\n%s", diff)
	}
}

func TestBundleVersion(t *testing.T) {
	for in, want := range map[string]string{
		"v1.2.3": "1.2.3", "1.2": "1.2", "v0.3.0-rc1": "0.3.0", "v2.0.0-4-gabc": "2.0.0",
		"dev": "0.0.0", "abc1234-dirty": "0.0.0", "": "0.0.0", "1.2.3.4": "1.2.3",
	} {
		if got := BundleVersion(in); got != want {
			t.Errorf("BundleVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBuild(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	in := Inputs{Version: "v1.0.0", Pixie: write("pixie", "daemon"), Tray: write("tray", "tray"), Icons: filepath.Dir(write("icons/on.png", "png"))}
	write("icons/gen.go", "package icons")
	app := filepath.Join(dir, "out", "Pixie.app")
	if err := Build(app, in); err != nil {
		t.Fatal(err)
	}
	if err := Build(app, in); err != nil { // over an existing bundle
		t.Fatal(err)
	}
	for p, want := range map[string]string{
		"Contents/MacOS/pixie":      "daemon",
		"Contents/MacOS/pixie-tray": "tray",
		"Contents/Resources/on.png": "png",
		"Contents/PkgInfo":          "APPL????",
	} {
		got, err := os.ReadFile(filepath.Join(app, p))
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v", p, got, err)
		}
	}
	if _, err := os.Stat(filepath.Join(app, "Contents/Resources/gen.go")); err == nil {
		t.Error("a non-icon file was copied into Resources")
	}
	fi, err := os.Stat(filepath.Join(app, "Contents/MacOS/pixie"))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("pixie's mode: %v %v", fi, err)
	}
	var info Info
	data, _ := os.ReadFile(filepath.Join(app, "Contents/Info.plist"))
	if _, err := plist.Unmarshal(data, &info); err != nil || !info.UIElement || info.Executable != "pixie-tray" {
		t.Errorf("bundle Info.plist: %+v, %v", info, err)
	}
	if err := Build(filepath.Join(dir, "Pixie"), in); err == nil {
		t.Error("a bundle name without .app was accepted")
	}
}

// The LaunchDaemon names the app's bundle so Login Items shows it as
// Pixie: the two identifiers must agree.
func TestLaunchDaemonNamesThisBundle(t *testing.T) {
	if service.AppBundleID != BundleID {
		t.Fatalf("helper/service.AppBundleID %q != packaging/macos.BundleID %q", service.AppBundleID, BundleID)
	}
}
