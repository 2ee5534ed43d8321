package testnet

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// watchdogScript reads namespace names, one a line, until its stdin reaches
// EOF, then kills everything inside those namespaces and deletes them.
const watchdogScript = `
nss=
while read -r ns; do nss="$nss $ns"; done
for ns in $nss; do
	pids=$(ip netns pids "$ns" 2>/dev/null)
	[ -n "$pids" ] && kill -9 $pids 2>/dev/null
done
for ns in $nss; do ip netns del "$ns" 2>/dev/null; done
exit 0
`

// watchdog removes a LAN's namespaces when the test process dies without
// running its cleanups: go test's -timeout panics straight out of the
// binary, and Pdeathsig does not help with programs that change their
// credentials (dnsmasq clears it when it sets its uid/gid, even to root).
// Its stdin is a pipe only the test process can write to; the kernel closes
// it when that process ends, however it ends.
type watchdog struct {
	w    *os.File
	cmd  *exec.Cmd
	done chan struct{}
}

func startWatchdog() (*watchdog, error) {
	r, w, err := os.Pipe() // close-on-exec: no other child inherits w
	if err != nil {
		return nil, err
	}
	defer r.Close()
	cmd := exec.Command("sh", "-c", watchdogScript)
	cmd.Stdin = r
	// Its own process group: a ^C on the terminal must not kill it before
	// it had a chance to clean up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("start namespace watchdog: %w", err)
	}
	wd := &watchdog{w: w, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(wd.done)
	}()
	return wd, nil
}

// track tells the watchdog about a namespace before it is created.
func (wd *watchdog) track(ns string) error {
	_, err := fmt.Fprintln(wd.w, ns)
	return err
}

// stop lets the watchdog run its (by now redundant) cleanup and exit.
func (wd *watchdog) stop() {
	wd.w.Close()
	select {
	case <-wd.done:
	case <-time.After(commandTimeout):
		_ = wd.cmd.Process.Kill()
		<-wd.done
	}
}
