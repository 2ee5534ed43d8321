// Package icons holds pixie's menu-bar icons: an "on" look (serving) and
// an "off" look (paused or not running), each as a macOS template icon
// (black and alpha, tinted by the system to match the menu bar) and as a
// colored icon for Linux panels.
//
// The PNG files are drawn by Draw and written by `go generate`; a test
// checks the checked-in files still match the drawing, and packaging can
// take the files as they are.
package icons

//go:generate go run gen.go

import (
	"embed"
	"fmt"
)

//go:embed *.png
var files embed.FS

// File names of the icons, for packaging.
const (
	OnTemplateFile  = "pixie-on-template.png"
	OffTemplateFile = "pixie-off-template.png"
	OnFile          = "pixie-on.png"
	OffFile         = "pixie-off.png"
)

// Template returns the macOS template icon (PNG) of the on or off look.
func Template(on bool) []byte {
	if on {
		return mustRead(OnTemplateFile)
	}
	return mustRead(OffTemplateFile)
}

// Color returns the colored icon (PNG) of the on or off look.
func Color(on bool) []byte {
	if on {
		return mustRead(OnFile)
	}
	return mustRead(OffFile)
}

// FileName returns the file name of a look, as Draw(on, template) draws it.
func FileName(on, template bool) string {
	switch {
	case on && template:
		return OnTemplateFile
	case template:
		return OffTemplateFile
	case on:
		return OnFile
	}
	return OffFile
}

func mustRead(name string) []byte {
	b, err := files.ReadFile(name)
	if err != nil {
		// The files are embedded at build time: a missing one is a
		// broken build, not a runtime condition.
		panic(fmt.Sprintf("icons: %s not embedded: %v", name, err))
	}
	return b
}
