// Package paths knows where pixie keeps things on each operating system:
// the data directory (database, images, firmware override) and logs, with
// the control socket's path and group as the daemon's API packages define
// them.
package paths

import (
	"runtime"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/control"
)

// Layout is one operating system's set of locations.
type Layout struct {
	DataDir     string // database, assets/, firmware/
	Socket      string // control socket
	SocketGroup string // group allowed to use the socket besides root
	LogDir      string // where the service's logs go (empty: the journal)
}

// For returns the layout for goos (a runtime.GOOS value).
func For(goos string) Layout {
	switch goos {
	case "darwin":
		return Layout{
			DataDir:     "/Library/Application Support/Pixie",
			Socket:      api.OSSocketPath(goos),
			SocketGroup: control.DefaultGroupFor(goos),
			LogDir:      "/Library/Logs/Pixie",
		}
	default:
		return Layout{
			DataDir:     "/var/lib/pixie",
			Socket:      api.OSSocketPath(goos),
			SocketGroup: control.DefaultGroupFor(goos),
		}
	}
}

// Default is the layout of the running system.
func Default() Layout { return For(runtime.GOOS) }
