// Package paths knows where pixie keeps things on each operating system:
// the data directory (database, images, firmware override), logs, and the
// control socket's path and group, gathered from the constants in
// daemon/api (a cgo-free leaf the menu-bar app shares).
package paths

import (
	"runtime"

	"github.com/pixie-boot/pixie/daemon/api"
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
			DataDir:     api.DarwinDataDir,
			Socket:      api.OSSocketPath(goos),
			SocketGroup: api.DarwinSocketGroup,
			LogDir:      api.DarwinLogDir,
		}
	default:
		return Layout{
			DataDir:     api.LinuxDataDir,
			Socket:      api.OSSocketPath(goos),
			SocketGroup: api.LinuxSocketGroup,
		}
	}
}

// Default is the layout of the running system.
func Default() Layout { return For(runtime.GOOS) }
