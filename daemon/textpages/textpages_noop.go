//go:build !(linux && (amd64 || arm64))

package textpages

// Release does nothing here: fault-around and smaps are Linux's, and the
// page-cache call differs on 32-bit Linux (not a platform pixie ships for).
func Release() (int64, error) { return 0, nil }
