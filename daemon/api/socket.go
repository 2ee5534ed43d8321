package api

import (
	"os"
	"runtime"
)

// SocketEnv names the environment variable that overrides the socket path.
const SocketEnv = "PIXIE_SOCKET"

// Default socket paths: /run is the Linux place for runtime sockets (a
// tmpfs, so a reboot leaves no stale socket); macOS has no /run.
const (
	LinuxSocket  = "/run/pixie/pixie.sock"
	DarwinSocket = "/var/run/pixie.sock"
)

// DefaultSocketPath returns $PIXIE_SOCKET if set, else this OS's default.
func DefaultSocketPath() string {
	if p := os.Getenv(SocketEnv); p != "" {
		return p
	}
	return OSSocketPath(runtime.GOOS)
}

// OSSocketPath returns the default socket path on the given GOOS.
func OSSocketPath(goos string) string {
	if goos == "darwin" {
		return DarwinSocket
	}
	return LinuxSocket
}
