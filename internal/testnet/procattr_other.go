//go:build !linux

package testnet

import "syscall"

// procAttr puts a started program into its own process group. (The package
// needs Linux to build a LAN; this only keeps it compiling elsewhere, e.g.
// for `go vet` with GOOS=darwin.)
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
