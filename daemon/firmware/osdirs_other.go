//go:build !darwin

package firmware

// osDirs: /usr/lib/ipxe (Debian, Ubuntu) and /usr/share/ipxe (Fedora,
// RHEL).
func osDirs() []string { return []string{"/usr/lib/ipxe", "/usr/share/ipxe"} }
