// Package macos lays out Pixie.app, the menu-bar app that carries the
// pixie binary, and writes its Info.plist. `make macos-app` runs it
// through ./mkbundle; `make macos-pkg` wraps the app in an installer whose
// postinstall script installs the LaunchDaemon (see scripts/postinstall).
//
//	Pixie.app/Contents/Info.plist
//	Pixie.app/Contents/PkgInfo
//	Pixie.app/Contents/MacOS/pixie-tray   the menu-bar app (CFBundleExecutable)
//	Pixie.app/Contents/MacOS/pixie        the daemon and CLI
//	Pixie.app/Contents/Resources/*.png    menu-bar icons from assets/icons
package macos

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"howett.net/plist"
)

// BundleID identifies the app; the LaunchDaemon has its own label
// (service.LaunchdLabel).
const BundleID = "dev.pixie.Pixie"

// MinimumSystemVersion is the oldest macOS the app runs on (Go 1.26
// supports macOS 12 Monterey and later).
const MinimumSystemVersion = "12.0"

// Info is the app's Info.plist.
type Info struct {
	Name           string `plist:"CFBundleName"`
	DisplayName    string `plist:"CFBundleDisplayName"`
	Identifier     string `plist:"CFBundleIdentifier"`
	Executable     string `plist:"CFBundleExecutable"`
	PackageType    string `plist:"CFBundlePackageType"`
	InfoVersion    string `plist:"CFBundleInfoDictionaryVersion"`
	Version        string `plist:"CFBundleVersion"`
	ShortVersion   string `plist:"CFBundleShortVersionString"`
	MinimumSystem  string `plist:"LSMinimumSystemVersion"`
	HighResolution bool   `plist:"NSHighResolutionCapable"`
	Copyright      string `plist:"NSHumanReadableCopyright"`
	// UIElement keeps the app out of the Dock and the app switcher: it
	// lives only in the menu bar.
	UIElement bool `plist:"LSUIElement"`
	// PixieVersion is the full version (e.g. a git describe), which the
	// CFBundle keys cannot hold.
	PixieVersion string `plist:"PixieVersion"`
}

var numericVersion = regexp.MustCompile(`^\d+(\.\d+){0,2}`)

// BundleVersion turns a version such as "v1.2.3-4-gabcdef-dirty" into the
// dotted numbers CFBundleVersion and pkgbuild accept ("1.2.3"); "0.0.0"
// when it has none.
func BundleVersion(version string) string {
	if v := numericVersion.FindString(strings.TrimPrefix(version, "v")); v != "" {
		return v
	}
	return "0.0.0"
}

// NewInfo is the Info.plist for version.
func NewInfo(version string) Info {
	return Info{
		Name: "Pixie", DisplayName: "Pixie", Identifier: BundleID,
		Executable: "pixie-tray", PackageType: "APPL", InfoVersion: "6.0",
		Version: BundleVersion(version), ShortVersion: BundleVersion(version),
		MinimumSystem: MinimumSystemVersion, HighResolution: true, UIElement: true,
		Copyright: "Apache License 2.0", PixieVersion: version,
	}
}

// InfoPlist renders the Info.plist for version as XML.
func InfoPlist(version string) ([]byte, error) {
	out, err := plist.MarshalIndent(NewInfo(version), plist.XMLFormat, "\t")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// Inputs are the files that go into the bundle.
type Inputs struct {
	Version string
	Pixie   string // the pixie binary (darwin)
	Tray    string // the menu-bar app binary (darwin)
	Icons   string // a directory of .png icons
}

// Build writes the app bundle at app (e.g. bin/Pixie.app), replacing one
// that is there.
func Build(app string, in Inputs) error {
	if filepath.Ext(app) != ".app" {
		return fmt.Errorf("%s: an app bundle's name ends in .app", app)
	}
	if err := os.RemoveAll(app); err != nil {
		return err
	}
	contents := filepath.Join(app, "Contents")
	for _, d := range []string{"MacOS", "Resources"} {
		if err := os.MkdirAll(filepath.Join(contents, d), 0o755); err != nil {
			return err
		}
	}
	info, err := InfoPlist(in.Version)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(contents, "Info.plist"), info, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(contents, "PkgInfo"), []byte("APPL????"), 0o644); err != nil {
		return err
	}
	if err := copyFile(in.Tray, filepath.Join(contents, "MacOS", "pixie-tray"), 0o755); err != nil {
		return err
	}
	if err := copyFile(in.Pixie, filepath.Join(contents, "MacOS", "pixie"), 0o755); err != nil {
		return err
	}
	icons, err := filepath.Glob(filepath.Join(in.Icons, "*.png"))
	if err != nil {
		return err
	}
	for _, icon := range icons {
		if err := copyFile(icon, filepath.Join(contents, "Resources", filepath.Base(icon)), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(from, to string, mode os.FileMode) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}
