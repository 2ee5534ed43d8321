package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/pixie-boot/pixie/helper/service"
)

func TestStorePassword(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "pw")
	os.WriteFile(good, []byte("s3cret\n"), 0o600)
	open := filepath.Join(dir, "pw-open")
	os.WriteFile(open, []byte("s3cret\n"), 0o644)
	os.Chmod(open, 0o644)
	empty := filepath.Join(dir, "pw-empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	env := func(k string) string {
		if k == storePasswordEnv {
			return "from-env"
		}
		return ""
	}
	const pg = "postgres://pixie@db.example/pixie"
	cases := []struct {
		name    string
		s       service.Settings
		want    string
		wantErr string
	}{
		{name: "sqlite default", s: service.Settings{}},
		{name: "sqlite file", s: service.Settings{Store: "/srv/pixie.db"}},
		{name: "file wins over env", s: service.Settings{Store: pg, StorePasswordFile: good}, want: "s3cret"},
		{name: "env", s: service.Settings{Store: pg}, want: "from-env"},
		{name: "inline password", s: service.Settings{Store: "postgres://pixie:s3cret@db.example/pixie"}, wantErr: "--store-password-file FILE"},
		{name: "password in query", s: service.Settings{Store: pg + "?password=s3cret"}, wantErr: "carries a password"},
		{name: "file readable by others", s: service.Settings{Store: pg, StorePasswordFile: open}, wantErr: "chmod 600"},
		{name: "empty file", s: service.Settings{Store: pg, StorePasswordFile: empty}, wantErr: "is empty"},
		{name: "missing file", s: service.Settings{Store: pg, StorePasswordFile: filepath.Join(dir, "nope")}, wantErr: "no such file"},
		{name: "file without postgres", s: service.Settings{StorePasswordFile: good}, wantErr: "give --store postgres://"},
		{name: "other scheme", s: service.Settings{Store: "mysql://x/y"}, wantErr: "give a postgres:// URL or an SQLite file path"},
	}
	for _, c := range cases {
		got, err := storePassword(c.s, env)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s: err = %v, want %q", c.name, err, c.wantErr)
			} else if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("%s: the message shows the password: %v", c.name, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

// TestServeRefusesInlinePassword runs `pixie serve` with a password in the
// store URL: it refuses before anything starts (no socket is opened, the
// daemon is never run) and says how to pass the password instead.
func TestServeRefusesInlinePassword(t *testing.T) {
	code, _, errOut := pixie(t, nil, "", "serve", "--data-dir", t.TempDir(), "--store", "postgres://pixie:hunter2@db.example/pixie")
	if code != exitUsage || !strings.Contains(errOut, "--store-password-file") || strings.Contains(errOut, "hunter2") {
		t.Errorf("serve with an inline password: exit %d, %s", code, errOut)
	}
	code, _, errOut = pixie(t, nil, "", "serve", "--data-dir", t.TempDir(), "--instance", "bad name!")
	if code != exitUsage || !strings.Contains(errOut, "--instance") {
		t.Errorf("serve with a bad instance name: exit %d, %s", code, errOut)
	}
}

// TestInstallServiceStore stages a service on a PostgreSQL store: the URL,
// the password file and the instance name are on its command line, the
// password itself nowhere in the file.
func TestInstallServiceStore(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the systemd unit is checked on Linux")
	}
	root := t.TempDir()
	exe := filepath.Join(t.TempDir(), "pixie")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	pw := filepath.Join(t.TempDir(), "store-password")
	os.WriteFile(pw, []byte("hunter2\n"), 0o600)
	out := mustPixie(t, nil, "install", "service", "--root", root, "--executable", exe,
		"--store", "postgres://pixie@db.example/pixie", "--store-password-file", pw, "--instance", "rack-1")
	wantContains(t, "install", out, "--store postgres://pixie@db.example/pixie --store-password-file "+pw+" --instance rack-1")
	content, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(service.SystemdUnitPath)))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(content), "hunter2") || !strings.Contains(string(content), "--store-password-file") {
		t.Errorf("unit file:\n%s", content)
	}
	code, _, errOut := pixie(t, nil, "", "install", "service", "--root", t.TempDir(), "--executable", exe,
		"--store", "postgres://pixie:hunter2@db.example/pixie")
	if code != exitUsage || strings.Contains(errOut, "hunter2") || !strings.Contains(errOut, "--store-password-file") {
		t.Errorf("install with an inline password: exit %d, %s", code, errOut)
	}
}
