package desktop

import "path/filepath"

// servicePatterns are where an installed pixie service leaves its
// definition: a LaunchDaemon plist on macOS, a systemd unit on Linux. The
// patterns are loose on purpose (any label or unit name containing
// "pixie"), so the tray keeps recognizing the service whatever exact name
// `pixie install service` gives it.
func servicePatterns(goos string) []string {
	if goos == "darwin" {
		return []string{"/Library/LaunchDaemons/*pixie*.plist"}
	}
	return []string{
		"/etc/systemd/system/pixie*.service",
		"/run/systemd/system/pixie*.service",
		"/usr/local/lib/systemd/system/pixie*.service",
		"/usr/lib/systemd/system/pixie*.service",
		"/lib/systemd/system/pixie*.service",
	}
}

// ServiceInstalled reports whether pixie is installed as a system service
// on goos, looking for its definition with glob (filepath.Glob when nil).
func ServiceInstalled(goos string, glob func(pattern string) ([]string, error)) bool {
	if glob == nil {
		glob = filepath.Glob
	}
	for _, p := range servicePatterns(goos) {
		if m, err := glob(p); err == nil && len(m) > 0 {
			return true
		}
	}
	return false
}

// ServiceInstalled reports whether pixie is installed as a system service
// on this desktop's OS.
func (d *Desktop) ServiceInstalled() bool { return ServiceInstalled(d.GOOS, nil) }
