//go:build linux

package testnet

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// InNamespace runs f on an OS thread that has joined namespace ns (one of
// the LAN's own), and returns f's error. Sockets f opens belong to ns for
// good, even after f returns: use it to put a Go test client (a PXE client
// built on a DHCP library, say) on the LAN without a helper process. The
// thread stays locked, so the Go runtime discards it when f returns and no
// other goroutine ever runs in ns by accident. f never runs unless the
// switch is confirmed.
func (l *LAN) InNamespace(ns string, f func() error) error {
	if !l.owns(ns) {
		return fmt.Errorf("testnet: namespace %q is not part of this LAN", ns)
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: see above
		target, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		var want, got unix.Stat_t
		if err := unix.Fstat(int(target.Fd()), &want); err != nil {
			errc <- err
			return
		}
		if err := unix.Stat("/proc/thread-self/ns/net", &got); err != nil || got.Ino != want.Ino || got.Dev != want.Dev {
			errc <- fmt.Errorf("testnet: thread is not in namespace %s after setns (%v)", ns, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}
