package testnet

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Process is a background program started by LAN.Start.
type Process struct {
	// Name says what and where ("server-dnsmasq"); LogPath holds its
	// stdout and stderr.
	Name, LogPath string

	cmd  *exec.Cmd
	done chan struct{} // closed once Wait returned
	err  error         // Wait's result, valid after done
}

// startProcess starts cmd with its output in a new log file in dir.
func startProcess(cmd *exec.Cmd, dir, name string) (*Process, error) {
	log, err := os.CreateTemp(dir, name+"-*.log")
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = log, log
	// `ip netns exec` execs the program in place, so the pid is the
	// program's and the death signal reaches it: if the test binary dies
	// without running its cleanups, QEMU and DHCP servers die with it.
	cmd.SysProcAttr = procAttr()
	// Linux sends the death signal when the *thread* that forked the
	// child exits, not the process: LAN.InNamespace's locked threads exit
	// when done, and a child forked from one of them would be killed then.
	// The fork and the wait share a thread locked for the child's life.
	p := &Process{Name: name, LogPath: log.Name(), cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		log.Close()
		close(p.done)
	}()
	if err := <-started; err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", strings.Join(cmd.Args, " "), err)
	}
	return p, nil
}

// Pid returns the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err returns how the process ended; only meaningful after Done is closed.
func (p *Process) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return errors.New("still running")
	}
}

// Log returns what the process has written so far.
func (p *Process) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

// Stop asks the process (and its process group) to terminate, and kills it
// after 5 s. It is idempotent and returns once the process is gone.
func (p *Process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	// Negative pid: the whole group, in case the program forked helpers.
	_ = syscall.Kill(-p.Pid(), syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(5 * time.Second):
	}
	_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
	<-p.done
}

// WaitLog waits until the process's log contains substr. It fails when the
// process exits first or timeout passes.
func (p *Process) WaitLog(substr string, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if strings.Contains(p.Log(), substr) {
			return nil
		}
		select {
		case <-p.done:
			if strings.Contains(p.Log(), substr) {
				return nil
			}
			return fmt.Errorf("%s exited (%v) before logging %q; log:\n%s", p.Name, p.err, substr, tail(p.Log(), 20))
		case <-deadline.C:
			return fmt.Errorf("%s did not log %q within %s; log:\n%s", p.Name, substr, timeout, tail(p.Log(), 20))
		case <-tick.C:
		}
	}
}
