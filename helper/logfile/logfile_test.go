package logfile

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestReopenAfterRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pixie.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fmt.Fprintln(l, "before rotation")
	if err := os.Rename(path, path+".0"); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(l, "after rename, before reopen")
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(l, "after reopen")
	if got, want := read(t, path+".0"), "before rotation\nafter rename, before reopen\n"; got != want {
		t.Errorf("rotated file = %q, want %q", got, want)
	}
	if got, want := read(t, path), "after reopen\n"; got != want {
		t.Errorf("new file = %q, want %q", got, want)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm&^Mode != 0 {
		t.Errorf("new log file mode %v, want at most %v", perm, os.FileMode(Mode))
	}
}

func TestOpenAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pixie.log")
	if err := os.WriteFile(path, []byte("old line\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(l, "new line")
	l.Close()
	if got := read(t, path); got != "old line\nnew line\n" {
		t.Errorf("log = %q: Open must append, not truncate", got)
	}
	if _, err := l.Write([]byte("x")); err == nil {
		t.Error("a write after Close succeeded")
	}
}

func TestReopenFailureKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	logDir := filepath.Join(dir, "logs")
	if err := os.Mkdir(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(logDir, "pixie.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// The directory goes away (renamed) and with it the path.
	if err := os.Rename(logDir, logDir+".old"); err != nil {
		t.Fatal(err)
	}
	err = l.Reopen()
	if err == nil || !strings.Contains(err.Error(), "directory does not exist") {
		t.Fatalf("Reopen = %v, want an error saying the directory is missing", err)
	}
	fmt.Fprintln(l, "still logged")
	if got := read(t, filepath.Join(logDir+".old", "pixie.log")); got != "still logged\n" {
		t.Errorf("old file = %q: a failed reopen must keep writing to the old file", got)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ path, want string }{
		{filepath.Join(dir, "missing", "pixie.log"), "its directory does not exist"},
		{dir, "that is a directory"},
	}
	for _, tc := range cases {
		_, err := Open(tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "open the log file "+tc.path) {
			t.Errorf("Open(%s) = %v, want %q", tc.path, err, tc.want)
		}
	}
}

func TestWritePid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pixie.pid")
	remove, err := WritePid(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := read(t, path), strconv.Itoa(os.Getpid())+"\n"; got != want {
		t.Errorf("pid file = %q, want %q", got, want)
	}
	remove()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("pid file still there after remove: %v", err)
	}
	// Another process took the pid file over: ours must not delete its.
	if _, err := WritePid(path); err != nil {
		t.Fatal(err)
	}
	remove2, _ := WritePid(path)
	if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	remove2()
	if got := read(t, path); got != "1\n" {
		t.Errorf("remove deleted or changed another process's pid file: %q", got)
	}
	if _, err := WritePid(filepath.Join(path, "x")); err == nil || !strings.Contains(err.Error(), "write the pid file") {
		t.Errorf("WritePid under a file = %v, want a pid-file error", err)
	}
}

// childEnv makes the test binary run as the child process of
// TestSIGHUPReopensInAnotherProcess instead of running tests.
const childEnv = "PIXIE_LOGFILE_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(child(spec))
	}
	os.Exit(m.Run())
}

// child is a process that logs what it reads on stdin to its log file,
// follows SIGHUP as `pixie serve --log-file` does, writes its pid file and
// says on stdout when it is ready and when it has reopened the log.
func child(spec string) int {
	logPath, pidPath, _ := strings.Cut(spec, "|")
	l, err := Open(logPath)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	defer l.Close()
	ReopenOn(context.Background(), l, func(err error) {
		if err != nil {
			fmt.Println("reopen failed:", err)
			return
		}
		fmt.Fprintln(l, "log file reopened")
		fmt.Println("reopened")
	}, syscall.SIGHUP)
	remove, err := WritePid(pidPath)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	defer remove()
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fmt.Fprintln(l, in.Text())
		fmt.Println("logged")
	}
	return 0
}

// TestSIGHUPReopensInAnotherProcess rotates the log of a real process the
// way newsyslog does: rename the file, read the pid file, send SIGHUP.
func TestSIGHUPReopensInAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	logPath, pidPath := filepath.Join(dir, "pixie.log"), filepath.Join(dir, "pixie.pid")
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"="+logPath+"|"+pidPath)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	}()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	expect := func(want string) {
		t.Helper()
		select {
		case got, ok := <-lines:
			if !ok || got != want {
				t.Fatalf("child said %q (open %v), want %q", got, ok, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("child did not say %q within 30s", want)
		}
	}
	expect("ready")
	fmt.Fprintln(stdin, "line one")
	expect("logged")

	if err := os.Rename(logPath, logPath+".0"); err != nil {
		t.Fatal(err)
	}
	pidText := strings.TrimSpace(read(t, pidPath))
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid != cmd.Process.Pid {
		t.Fatalf("pid file holds %q, want %d", pidText, cmd.Process.Pid)
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	expect("reopened")
	fmt.Fprintln(stdin, "line two")
	expect("logged")

	if got, want := read(t, logPath+".0"), "line one\n"; got != want {
		t.Errorf("rotated log = %q, want %q", got, want)
	}
	if got, want := read(t, logPath), "log file reopened\nline two\n"; got != want {
		t.Errorf("new log = %q, want %q", got, want)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	if _, err := os.Stat(pidPath); !os.IsNotExist(err) {
		t.Errorf("pid file left behind after a clean exit: %v", err)
	}
}
