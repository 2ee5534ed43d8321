//go:build !darwin

package netif

import (
	"bufio"
	"os"
)

// DefaultRouteInterface returns the interface of the IPv4 default route as
// Linux's /proc/net/route shows it, or "" when unknown (no /proc, or no
// default route).
func DefaultRouteInterface() string {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return ""
	}
	defer f.Close()
	return parseRouteTable(bufio.NewScanner(f))
}
