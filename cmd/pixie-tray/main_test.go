package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
)

func TestFlags(t *testing.T) {
	tests := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"--version"}, 0, "pixie-tray dev"},
		{[]string{"--help"}, 0, "usage: pixie-tray [flags]"},
		{[]string{"--no-such-flag"}, 2, "flag provided but not defined: -no-such-flag"},
		{[]string{"extra"}, 2, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		if code := run(context.Background(), tt.args, &out); code != tt.code || !strings.Contains(out.String(), tt.out) {
			t.Errorf("pixie-tray %v: exit %d, output %q; want %d and %q", tt.args, code, out.String(), tt.code, tt.out)
		}
	}
}

// TestImportsOnlyTheAPI keeps the tray unprivileged by construction: of
// pixie's own packages it may use the control API's client, its own
// packages and the icons — never the daemon's store, servers or the
// service helper (and so never SQLite or cgo on Linux).
func TestImportsOnlyTheAPI(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list the imports with")
	}
	out, err := exec.Command(goTool, "list", "-deps", "github.com/pixie-boot/pixie/cmd/pixie-tray").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	// ui is the dashboard: itself a client of the socket, as this user.
	allowed := []string{"daemon/api", "tray", "tray/", "assets/icons", "cmd/pixie-tray", "ui"}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "github.com/mattn/go-sqlite3" {
			t.Errorf("pixie-tray links SQLite")
		}
		rest, ok := strings.CutPrefix(pkg, "github.com/pixie-boot/pixie/")
		if !ok {
			continue
		}
		ok = false
		for _, a := range allowed {
			if rest == a || (strings.HasSuffix(a, "/") && strings.HasPrefix(rest, a)) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("pixie-tray imports %s: it may talk to the daemon only through daemon/api", pkg)
		}
	}
}

func TestRaces(t *testing.T) {
	const report = `==================
WARNING: DATA RACE
Write at 0x0000016c8af8 by goroutine 68:
  fyne.io/systray.refresh()
      /x/systray_menu_unix.go:423 +0x19e

Previous read at 0x0000016c8af8 by goroutine 73:
  fyne.io/systray.(*tray).GetLayout()
      /x/systray_menu_unix.go:91 +0x1d6

Goroutine 68 (running) created at:
  github.com/pixie-boot/pixie/tray/menubar.(*bar).render()
==================
==================
WARNING: DATA RACE
Read at 0x00c000123 by goroutine 9:
  github.com/pixie-boot/pixie/tray.(*Controller).State()
      /x/controller.go:1 +0x1

Previous write at 0x00c000123 by goroutine 8:
  github.com/pixie-boot/pixie/tray.(*Controller).refresh()
==================
`
	ours, theirs := races(report)
	if len(ours) != 1 || len(theirs) != 1 || !strings.Contains(ours[0], "Controller") || !strings.Contains(theirs[0], "systray.refresh") {
		t.Errorf("ours %q\ntheirs %q", ours, theirs)
	}
}
