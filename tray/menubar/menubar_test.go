//go:build !darwin || cgo

package menubar

import "testing"

func TestCheckSession(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	exists := func(p string) bool { return p == "/run/user/1000/bus" }
	tests := []struct {
		goos string
		env  map[string]string
		ok   bool
	}{
		{"darwin", nil, true},
		{"linux", map[string]string{"DBUS_SESSION_BUS_ADDRESS": "unix:path=/tmp/x"}, true},
		{"linux", map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000"}, true},
		{"linux", map[string]string{"XDG_RUNTIME_DIR": "/run/user/0"}, false},
		{"linux", nil, false},
	}
	for _, tt := range tests {
		if err := checkSession(tt.goos, env(tt.env), exists); (err == nil) != tt.ok {
			t.Errorf("%s %v: err = %v, want ok %v", tt.goos, tt.env, err, tt.ok)
		}
	}
}
