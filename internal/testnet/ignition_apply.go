package testnet

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// setfilesShim stands in for SELinux's setfiles, which Ignition runs at
// the end of its files stage on every file it wrote (Debian builds it, as
// upstream does, for Fedora's SELinux systems). Debian has neither the
// policy nor SELinux in this kernel; the shim keeps the list of paths
// Ignition asked to relabel, NUL-separated as it sends them, so a test can
// check it.
const setfilesShim = `#!/bin/sh
cat > "$(dirname "$0")/relabeled"
`

// IgnitionResult is what ApplyIgnition saw.
type IgnitionResult struct {
	Log string
	// Relabeled are the paths Ignition asked setfiles to relabel, as the
	// booted system sees them.
	Relabeled []string
}

// ApplyIgnition runs Ignition's fetch-offline and files stages, as a
// first boot of Fedora CoreOS does in its initramfs, with the "file"
// platform reading config and root as the system's root (Fedora CoreOS:
// /sysroot). root needs /etc/selinux/config, as Fedora's images have.
func ApplyIgnition(root string, config []byte) (IgnitionResult, error) {
	var res IgnitionResult
	bin, err := IgnitionBinary()
	if err != nil {
		return res, err
	}
	dir, err := os.MkdirTemp("", "pixie-ign-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "setfiles"), []byte(setfilesShim), 0o755); err != nil {
		return res, err
	}
	cfg := filepath.Join(dir, "config.ign")
	if err := os.WriteFile(cfg, config, 0o600); err != nil {
		return res, err
	}
	var log []byte
	for _, stage := range []string{"fetch-offline", "files"} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, bin, "-platform", "file", "-stage", stage, "-root", root,
			"-config-cache", filepath.Join(dir, "ignition.json"),
			"-state-file", filepath.Join(dir, "state"),
			"-neednet", filepath.Join(dir, "neednet"),
			"-log-to-stdout")
		cmd.Env = append(os.Environ(), "IGNITION_CONFIG_FILE="+cfg, "PATH="+dir+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		cancel()
		// On failure Ignition prints the whole config, embedded binary
		// included: keep the log readable.
		if i := bytes.Index(out, []byte("Full config:")); i >= 0 {
			if j := bytes.Index(out[i:], []byte("\nCRITICAL")); j >= 0 {
				out = append(out[:i:i], out[i+j+1:]...)
			} else {
				out = out[:i]
			}
		}
		log = append(log, out...)
		if err != nil {
			res.Log = string(log)
			return res, fmt.Errorf("ignition stage %s: %w", stage, err)
		}
	}
	res.Log = string(log)
	if b, err := os.ReadFile(filepath.Join(dir, "relabeled")); err == nil {
		for _, p := range bytes.Split(b, []byte{0}) {
			if len(p) > 0 {
				// Ignition names them with the root in front.
				rel := strings.TrimPrefix(string(p), strings.TrimSuffix(root, "/"))
				res.Relabeled = append(res.Relabeled, rel)
			}
		}
	}
	return res, nil
}
