//go:build linux

package testnet

import "syscall"

// procAttr puts a started program into its own process group and has the
// kernel kill it when the test process dies.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
