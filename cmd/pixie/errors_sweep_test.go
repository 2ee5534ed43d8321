package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/pixie-boot/pixie/daemon/api"
)

// Every command's error paths print a sentence a person can act on, not a
// library's error; each case is the whole of stderr.
func TestCLIErrorMessages(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "node.ign")
	notKeys := filepath.Join(dir, "keys.asc")
	os.WriteFile(notKeys, []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644)
	notSocket := filepath.Join(dir, "file.sock")
	os.WriteFile(notSocket, nil, 0o644)
	wd, _ := os.Getwd()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"boots", "--limit", "abc"}, exitUsage, `--limit "abc": give a whole number` + "\nRun 'pixie boots --help' for usage.\n"},
		{[]string{"status", "--json=maybe"}, exitUsage, `--json "maybe": give true or false, or leave the value out` + "\nRun 'pixie status --help' for usage.\n"},
		{[]string{"images", "pull", "fedora-coreos", "--arch", "sparc"}, exitUsage, `--arch: architecture "sparc": use x86_64 or aarch64` + "\nRun 'pixie images pull --help' for usage.\n"},
		{[]string{"images", "pull", "flatcar", "--channel", "nightly"}, exitUsage, `flatcar channel "nightly": use stable, beta, alpha, lts` + "\nRun 'pixie images pull --help' for usage.\n"},
		{[]string{"images", "pull", "fedora-coreos", "--timeout", "soon"}, exitUsage, `--timeout "soon": give a duration like 30s, 2m or 1h30m` + "\nRun 'pixie images pull --help' for usage.\n"},
		{[]string{"profiles", "add", "x", "--kernel", "k", "--ignition", missing}, exitFailure, "--ignition " + missing + ": there is no such file\n"},
		{[]string{"profiles", "add", "x", "--kernel", "k", "--ignition", "node.ign"}, exitFailure, "--ignition node.ign: there is no such file in " + wd + "\n"},
		{[]string{"profiles", "add", "x", "--kernel", "k", "--butane", dir}, exitFailure, "--butane " + dir + " is a directory: give a file\n"},
		{[]string{"profiles", "edit", "x", "--butane", missing}, exitFailure, "--butane " + missing + ": there is no such file\n"},
		{[]string{"machines", "set", "90:2b:34:14:f6:6a", "--ignition", missing}, exitFailure, "--ignition " + missing + ": there is no such file\n"},
		{[]string{"profiles", "add", "x", "--os", "fedora-coreos", "--ssh-key", missing}, exitFailure, "--ssh-key " + missing + ": there is no such file\n"},
		{[]string{"images", "pull", "flatcar", "--keyring", missing}, exitFailure, "--keyring " + missing + ": there is no such file\n"},
		{[]string{"images", "pull", "flatcar", "--keyring", notKeys}, exitFailure, "--keyring " + notKeys +
			": not an OpenPGP public keyring: give the distribution's signing key, armored (-----BEGIN PGP PUBLIC KEY BLOCK-----) or binary, e.g. from gpg --export --armor KEYID\n"},
		{[]string{"install", "service", "--root", notSocket, "--executable", "/bin/sh"}, exitFailure,
			"could not install the pixie service: could not open " + filepath.Join(notSocket, "etc/systemd/system/pixie.service") + ": a part of the path is a file, not a directory\n"},
		{[]string{"--socket", notSocket, "status"}, exitFailure, notSocket + " is not a socket, so no pixie daemon answers there: give --socket (or $PIXIE_SOCKET) the daemon's socket, " + api.OSSocketPath(runtime.GOOS) + " by default\n"},
	} {
		code, out, errOut := pixie(t, nil, "", tc.args...)
		if code != tc.code || errOut != tc.want {
			t.Errorf("pixie %s: exit %d, stderr %q\nwant exit %d, %q", strings.Join(tc.args, " "), code, errOut, tc.code, tc.want)
		}
		if out != "" && !strings.HasPrefix(tc.args[0], "--socket") {
			t.Errorf("pixie %s: stdout %q", strings.Join(tc.args, " "), out)
		}
	}
}

// Root reads and writes any file, so the permission cases are built from
// the errors the system returns to other users.
func TestPermissionMessages(t *testing.T) {
	read := fileError("--ignition", "/root/node.ign", &fs.PathError{Op: "open", Path: "/root/node.ign", Err: syscall.EACCES})
	if want := "--ignition /root/node.ign: permission denied: your user may not read it (see `ls -l /root/node.ign`)"; read.Error() != want || !errors.Is(read, fs.ErrPermission) {
		t.Errorf("read: %q, want %q (and still fs.ErrPermission)", read, want)
	}
	for _, tc := range []struct {
		pe   *fs.PathError
		want string
	}{
		{&fs.PathError{Op: "mkdir", Path: "/x/y", Err: syscall.ENOENT}, "could not create the directory /x/y: it, or a directory above it, does not exist"},
		{&fs.PathError{Op: "write", Path: "/x", Err: syscall.EACCES}, "could not write /x: permission denied (run the command with sudo)"},
		{&fs.PathError{Op: "open", Path: "/x", Err: syscall.EROFS}, "could not open /x: the file system is read-only"},
		{&fs.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}, "could not write /x: the disk is full"},
	} {
		if got := pathProblem(tc.pe); got != tc.want {
			t.Errorf("pathProblem(%v) = %q, want %q", tc.pe, got, tc.want)
		}
	}
}
