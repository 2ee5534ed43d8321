package control

import (
	"fmt"
	"runtime"

	"github.com/pixie-boot/pixie/daemon/api"
)

// Socket groups, as api defines them for every OS.
const (
	LinuxGroup  = api.LinuxSocketGroup
	DarwinGroup = api.DarwinSocketGroup
)

// DefaultGroup returns the group given access to the socket on this OS.
func DefaultGroup() string { return DefaultGroupFor(runtime.GOOS) }

// DefaultGroupFor returns the socket group for the given GOOS.
func DefaultGroupFor(goos string) string { return api.OSSocketGroup(goos) }

// addUserHint is the command that adds a user to a group.
func addUserHint(goos, group, user string) string {
	if goos == "darwin" {
		return fmt.Sprintf("sudo dseditgroup -o edit -a %s -t user %s", user, group)
	}
	return fmt.Sprintf("sudo usermod -aG %s %s", group, user)
}

// createGroupHint is the command that creates a group.
func createGroupHint(goos, group string) string {
	if goos == "darwin" {
		return fmt.Sprintf("sudo dseditgroup -o create %s", group)
	}
	return fmt.Sprintf("sudo groupadd --system %s", group)
}
