package pgtest

import "syscall"

// sysProcAttr runs postgres as cred and has the kernel stop it if the test
// binary dies without calling Stop.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
}
