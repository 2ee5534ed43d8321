package daemon

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
)

func TestFirstBindFatal(t *testing.T) {
	inUse := fmt.Errorf("HTTP on 10.0.0.2 port 8080: %w", &os.SyscallError{Syscall: "bind", Err: syscall.EADDRINUSE})
	denied := fmt.Errorf("proxyDHCP on en0: %w", &os.SyscallError{Syscall: "bind", Err: syscall.EACCES})
	gone := fmt.Errorf("TFTP on 10.0.0.2:69: %w", &os.SyscallError{Syscall: "bind", Err: syscall.EADDRNOTAVAIL})
	cases := []struct {
		name       string
		supervised bool
		err        error
		want       bool
	}{
		{"foreground, port held", false, inUse, true},
		{"foreground, not root", false, denied, true},
		{"foreground, address gone meanwhile", false, gone, false},
		{"foreground, other error", false, errors.New("boom"), false},
		{"supervised, port held", true, inUse, false},
		{"supervised, not root", true, denied, false},
	}
	for _, c := range cases {
		if got := firstBindFatal(c.supervised, c.err); got != c.want {
			t.Errorf("%s: firstBindFatal = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestUnderServiceManager(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want bool
	}{
		{"terminal on Linux", map[string]string{}, false},
		{"systemd unit", map[string]string{"INVOCATION_ID": "8d7c2f0a5b1e4c3d9f6a7b8c9d0e1f2a"}, true},
		{"launchd job", map[string]string{"XPC_SERVICE_NAME": "dev.pixie.daemon"}, true},
		{"Terminal.app on macOS", map[string]string{"XPC_SERVICE_NAME": "0"}, false},
	}
	for _, c := range cases {
		if got := UnderServiceManager(func(k string) string { return c.env[k] }); got != c.want {
			t.Errorf("%s: UnderServiceManager = %v, want %v", c.name, got, c.want)
		}
	}
}
