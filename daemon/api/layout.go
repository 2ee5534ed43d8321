package api

// Where the pixie service keeps things on each operating system. They live
// here, beside the socket paths, because the installer (helper/...), the
// daemon and the menu-bar app must agree on them, and the menu-bar app
// imports nothing of the daemon but this package.
const (
	LinuxDataDir  = "/var/lib/pixie"
	DarwinDataDir = "/Library/Application Support/Pixie"
	// On Linux the service logs to the journal.
	DarwinLogDir  = "/Library/Logs/Pixie"
	DarwinLogFile = DarwinLogDir + "/pixie.log"

	// Socket groups: Linux has no group every administrator is in, so
	// pixie asks for its own; on macOS every administrator is in "admin".
	LinuxSocketGroup  = "pixie"
	DarwinSocketGroup = "admin"
)

// OSDataDir returns the service's data directory on the given GOOS.
func OSDataDir(goos string) string {
	if goos == "darwin" {
		return DarwinDataDir
	}
	return LinuxDataDir
}

// OSSocketGroup returns the group given access to the control socket on
// the given GOOS.
func OSSocketGroup(goos string) string {
	if goos == "darwin" {
		return DarwinSocketGroup
	}
	return LinuxSocketGroup
}
