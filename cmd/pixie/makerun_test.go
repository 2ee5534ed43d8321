package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// makeRun is one run of the repository's real `make run` recipe, copied
// into a directory of its own with a stub in place of bin/pixie.
type makeRun struct {
	dir  string // Makefile, scripts/, the stubs and the log
	log  string // what the stub daemon and the stub sudo recorded
	path string // the only directory on the child's PATH
}

// nobody is the uid (and gid) the non-root cases run as when the test is
// root: a real other user, not an override.
const nobody = 65534

func newMakeRun(t *testing.T, withSudo bool) *makeRun {
	t.Helper()
	mk, err := exec.LookPath("make")
	if err != nil {
		t.Skip("make is not installed: `make run` cannot be tested here")
	}
	// Not t.TempDir: its parent is 0700, and the child may run as nobody.
	dir, err := os.MkdirTemp("", "pixie-makerun-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	r := &makeRun{dir: dir, log: filepath.Join(dir, "log"), path: filepath.Join(dir, "bin")}
	for _, d := range []string{filepath.Join(dir, "scripts"), r.path} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join("..", "..")
	for _, f := range []string{"Makefile", filepath.Join("scripts", "run-as-root.sh")} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, f), string(b), 0o644)
	}
	writeFile(t, r.log, "", 0o666)
	// The child's PATH holds exactly what the recipe needs, so a sudo
	// installed on this machine cannot leak into the no-sudo case.
	for _, tool := range []string{"sh", "id"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("%s is not installed", tool)
		}
		if err := os.Symlink(p, filepath.Join(r.path, tool)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(mk, filepath.Join(r.path, "make")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "pixie-stub"), "#!/bin/sh\necho \"daemon uid=$(id -u) args=$*\" >> "+r.log+"\n", 0o755)
	if withSudo {
		// A stub sudo records how it was called and runs the command (it
		// cannot make anyone root; what matters is that it is used).
		writeFile(t, filepath.Join(r.path, "sudo"), "#!/bin/sh\necho \"sudo $*\" >> "+r.log+"\n[ \"$1\" = -- ] && shift\nexec \"$@\"\n", 0o755)
	}
	for _, d := range []string{dir, filepath.Join(dir, "scripts")} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func writeFile(t *testing.T, name, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(name, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

// run runs `make run` (the build prerequisite marked as done with -o, so
// the real recipe runs against the stub) as uid, or as this process's own
// user when uid is -1, and returns the exit code, the output and the log.
func (r *makeRun) run(t *testing.T, uid int) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(r.path, "make"), "-o", "build", "run",
		"PIXIE_BIN="+filepath.Join(r.dir, "pixie-stub"), "ARGS=--interface eth9")
	cmd.Dir = r.dir
	cmd.Env = []string{"PATH=" + r.path, "LC_ALL=C"}
	if uid >= 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: nobody, Groups: []uint32{}}}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("make run: %v\n%s", err, out.String())
		}
		code = ee.ExitCode()
	}
	log, err := os.ReadFile(r.log)
	if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), string(log)
}

// otherUID is the non-root user the sudo cases run as: nobody when this
// test is root, else the test's own user.
func otherUID(t *testing.T) (uid int, id string) {
	if os.Geteuid() == 0 {
		return nobody, strconv.Itoa(nobody)
	}
	return -1, strconv.Itoa(os.Geteuid())
}

func TestMakeRunAsRootNeedsNoSudo(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the root case of `make run` runs as root (CI runs it)")
	}
	for _, withSudo := range []bool{false, true} {
		r := newMakeRun(t, withSudo)
		code, out, log := r.run(t, 0)
		if code != 0 {
			t.Fatalf("make run as root (sudo installed: %v): exit %d\n%s", withSudo, code, out)
		}
		if want := "daemon uid=0 args=serve --interface eth9\n"; log != want {
			t.Errorf("make run as root (sudo installed: %v) recorded %q, want %q (the daemon run directly, without sudo)", withSudo, log, want)
		}
	}
}

func TestMakeRunThroughSudo(t *testing.T) {
	uid, id := otherUID(t)
	r := newMakeRun(t, true)
	code, out, log := r.run(t, uid)
	if code != 0 {
		t.Fatalf("make run as uid %s with sudo: exit %d\n%s", id, code, out)
	}
	want := "sudo -- " + filepath.Join(r.dir, "pixie-stub") + " serve --interface eth9\n" +
		"daemon uid=" + id + " args=serve --interface eth9\n"
	if log != want {
		t.Errorf("make run as uid %s recorded %q, want %q (the daemon run through sudo)", id, log, want)
	}
}

func TestMakeRunWithoutRootOrSudo(t *testing.T) {
	uid, id := otherUID(t)
	r := newMakeRun(t, false)
	code, out, log := r.run(t, uid)
	if code == 0 {
		t.Fatalf("make run as uid %s without sudo succeeded:\n%s", id, out)
	}
	t.Logf("make run as uid %s without sudo: exit %d\n%s", id, code, out)
	if log != "" {
		t.Errorf("the daemon ran without root: %q", log)
	}
	for _, w := range []string{"needs root", "sudo is not installed", "su -c 'make run'", "apt-get install -y sudo && usermod -aG sudo "} {
		if !strings.Contains(out, w) {
			t.Errorf("make run as uid %s without sudo said %q; want it to contain %q", id, out, w)
		}
	}
	if strings.Contains(out, "No such file or directory") {
		t.Errorf("make run without sudo shows a raw error: %q", out)
	}
}
