//go:build darwin && !cgo

package menubar

import (
	"context"
	"errors"

	"github.com/pixie-boot/pixie/tray/menu"
)

// Source is what the menu bar shows and where its clicks go.
type Source interface {
	Menu() menu.Menu
	Changed() <-chan struct{}
	Click(ctx context.Context, a menu.Action)
}

// Icons are the PNG icons for the on and off looks.
type Icons struct {
	OnTemplate, OffTemplate []byte
	On, Off                 []byte
}

// Run fails: on macOS the menu bar is drawn through Objective-C, which
// needs a build with cgo (CGO_ENABLED=1 and Xcode's command line tools).
func Run(context.Context, Source, Icons) error {
	return errors.New("this pixie-tray was built without cgo, which the macOS menu bar needs: rebuild with CGO_ENABLED=1")
}
