package firmware

// osDirs: Homebrew's share/ipxe, under /opt/homebrew on Apple silicon and
// /usr/local on Intel Macs. macOS itself ships no iPXE; the Pixie app
// carries it embedded.
func osDirs() []string { return []string{"/opt/homebrew/share/ipxe", "/usr/local/share/ipxe"} }
