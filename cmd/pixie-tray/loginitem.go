package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pixie-boot/pixie/tray/loginitem"
)

// loginItemEnv is what --login-item needs from the process, so the test
// gives a temporary home and a non-root uid.
type loginItemEnv struct {
	goos string
	home func() (string, error)
	exe  func() (string, error)
	euid int
}

// loginItem carries out `pixie-tray --login-item on|off|status` and
// returns the exit code.
func loginItem(env loginItemEnv, arg string, out io.Writer) int {
	if arg != "on" && arg != "off" && arg != "status" {
		fmt.Fprintf(out, "pixie-tray: --login-item %q: use on, off or status\n", arg)
		return 2
	}
	if env.euid == 0 {
		fmt.Fprintln(out, "pixie-tray: the login item belongs to the user who logs in: run `pixie-tray --login-item "+arg+"` as yourself, without sudo")
		return 1
	}
	home, err := env.home()
	if err != nil || home == "" {
		fmt.Fprintln(out, "pixie-tray: your home directory is not known ($HOME is unset): set HOME and run it again")
		return 1
	}
	exe, err := env.exe()
	if err != nil {
		fmt.Fprintln(out, "pixie-tray: cannot tell where this pixie-tray is; run it by its full path")
		return 1
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	it := loginitem.Item{GOOS: env.goos, Home: home, Exe: exe}
	var st loginitem.State
	switch arg {
	case "status":
		st, err = it.Read()
	default:
		st, err = it.Set(arg == "on")
	}
	if err != nil {
		fmt.Fprintln(out, "pixie-tray:", err)
		return 1
	}
	switch {
	case st.On && st.Stale:
		fmt.Fprintf(out, "the login item is on but starts another pixie-tray (%s); `pixie-tray --login-item on` points it at this one\n", st.Path)
	case st.On && arg == "on":
		fmt.Fprintf(out, "pixie's menu will start at your next login (%s); `pixie-tray --login-item off` undoes it\n", st.Path)
	case st.On:
		fmt.Fprintf(out, "the login item is on: pixie's menu starts at login (%s)\n", st.Path)
	case arg == "off":
		fmt.Fprintf(out, "pixie's menu will not start at login any more (%s removed); this one keeps running until you quit it\n", st.Path)
	default:
		fmt.Fprintf(out, "the login item is off: pixie's menu does not start at login (`pixie-tray --login-item on` turns it on)\n")
	}
	return 0
}

// menuLoginItem is the login item behind the menu's "Start at login"
// toggle, or ok false where there is none (root, no home, no path).
func menuLoginItem(env loginItemEnv) (it loginitem.Item, ok bool) {
	if env.euid == 0 || (env.goos != "darwin" && env.goos != "linux") {
		return it, false
	}
	home, err := env.home()
	if err != nil || home == "" {
		return it, false
	}
	exe, err := env.exe()
	if err != nil {
		return it, false
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	return loginitem.Item{GOOS: env.goos, Home: home, Exe: exe}, true
}

// processEnv is the running process's loginItemEnv.
func processEnv(goos string) loginItemEnv {
	return loginItemEnv{goos: goos, home: os.UserHomeDir, exe: os.Executable, euid: os.Geteuid()}
}
