//go:build !darwin

package udpstat

// FullSocketDrops is read only on macOS: Linux has per-socket counts
// (daemon/dhcp), which say more.
func FullSocketDrops() (uint64, bool) { return 0, false }
