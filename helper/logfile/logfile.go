// Package logfile is a log file the daemon owns, so that a log rotator can
// rename it and ask for a new one.
//
// launchd's StandardOutPath opens the file once, when it spawns the job, and
// keeps writing to that open file after newsyslog has renamed it to
// pixie.log.0: the new pixie.log stays empty until the daemon restarts. A
// daemon that opens its own log and opens the path again on SIGHUP (what
// newsyslog sends to the pid in the pid file after renaming) follows the
// rotation. Linux's systemd unit keeps logging to the journal and uses
// none of this.
package logfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Mode is the permission of a log file pixie creates: readable by anyone
// on the machine (tail -f without sudo, as launchd's own files were), as
// newsyslog's rule (644) recreates it.
const Mode = 0o644

// File is an append-only log file that can be opened again by path. It is
// safe for concurrent use.
type File struct {
	path string

	mu sync.Mutex
	f  *os.File
}

// Open opens (creating it if need be) the log file at path for appending.
func Open(path string) (*File, error) {
	f, err := openAppend(path)
	if err != nil {
		return nil, err
	}
	return &File{path: path, f: f}, nil
}

func openAppend(path string) (*os.File, error) {
	// O_APPEND: every write lands at the end even while another writer
	// (launchd's stdout, a second pixie) has the same file open.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, Mode)
	if err != nil {
		return nil, explain("open the log file", path, err)
	}
	return f, nil
}

// Path is the file's path.
func (l *File) Path() string { return l.path }

// Write appends p to the file currently open.
func (l *File) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return 0, fmt.Errorf("log file %s is closed", l.path)
	}
	return l.f.Write(p)
}

// Reopen opens the path again and writes there from now on: after a
// rotator renamed the file, that is a new file. When the path cannot be
// opened the old file stays in use (losing no line) and the error says
// why.
func (l *File) Reopen() error {
	f, err := openAppend(l.path)
	if err != nil {
		return err
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

// Close closes the file; later writes fail.
func (l *File) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// WritePid writes the running process's pid to path (what newsyslog reads
// to know whom to signal), replacing the file in one rename so a reader
// never sees half of it. remove deletes it again, unless another process
// has written its own pid there since.
func WritePid(path string) (remove func(), err error) {
	pid := strconv.Itoa(os.Getpid())
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(pid+"\n"), 0o644); err != nil {
		return nil, explain("write the pid file", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return nil, explain("write the pid file", path, err)
	}
	return func() {
		if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == pid {
			os.Remove(path)
		}
	}, nil
}

// explain turns an open or write error into a sentence that says what to
// do, without the Go library's wording.
func explain(what, path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s %s: permission denied; run pixie as root (the service does) or give a path you may write", what, path)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s %s: its directory does not exist; create it or give another path", what, path)
	case errors.Is(err, syscall.EISDIR):
		return fmt.Errorf("%s %s: that is a directory; give a file's path", what, path)
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("%s %s: the disk is full; free some space", what, path)
	case errors.Is(err, syscall.EROFS):
		return fmt.Errorf("%s %s: the file system is read-only; give a path on a writable one", what, path)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%s %s: %v", what, path, err)
}
