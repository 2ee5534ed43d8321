package api

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"syscall"
)

// Codes of *Error, stable for programs to switch on.
const (
	CodeNotFound   = "not_found"   // 404: no such machine or profile
	CodeExists     = "exists"      // 409: a profile with that name exists
	CodeInUse      = "in_use"      // 409: the profile is used by machines or is the default
	CodeInvalid    = "invalid"     // 400: the request names something malformed (MAC, hostname, ...)
	CodeBadSetting = "bad_setting" // 400: settings that do not fit together or the OS (a Flatcar channel for Fedora CoreOS, ...)
	CodeForbidden  = "forbidden"   // 403: the caller is not root or in the socket's group
	CodeBadRequest = "bad_request" // 400 or 413: malformed JSON, unknown field, oversized body
	CodeInternal   = "internal"    // 500: the daemon failed; its log says why
	CodeDiskFull   = "disk_full"   // 507: the disk holding the daemon's data directory is full; nothing was changed
)

// Error is a failure the daemon answered with.
type Error struct {
	Status  int    `json:"-"`       // HTTP status
	Code    string `json:"code"`    // one of the Code constants
	Message string `json:"message"` // says what is wrong and, where it can, what to do
}

func (e *Error) Error() string { return e.Message }

// IsCode reports whether err is an *Error with the given code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// ErrDaemonNotRunning is matched (with errors.Is) by the error a client
// returns when nothing listens on the socket.
var ErrDaemonNotRunning = errors.New("pixie daemon is not running")

// NotRunningError is returned when the socket is missing or nothing answers
// on it. It matches ErrDaemonNotRunning and wraps the dial error.
type NotRunningError struct {
	Socket string
	Err    error // the dial error
	// NotSocket is set when Socket names a file or directory that is not
	// a socket at all: --socket is wrong, not the daemon stopped.
	NotSocket bool
}

func (e *NotRunningError) Error() string {
	if e.NotSocket {
		return fmt.Sprintf("%s is not a socket, so no pixie daemon answers there: give --socket (or $%s) the daemon's socket, %s by default", e.Socket, SocketEnv, OSSocketPath(runtime.GOOS))
	}
	why := "no socket at " + e.Socket
	if errors.Is(e.Err, syscall.ECONNREFUSED) {
		why = "nothing answers on " + e.Socket
	}
	return fmt.Sprintf("pixie daemon is not running (%s): start it with `sudo pixie serve` (or `sudo pixie start` once installed as a service)", why)
}

// Unwrap lets errors.Is match both ErrDaemonNotRunning and the dial error.
func (e *NotRunningError) Unwrap() []error { return []error{ErrDaemonNotRunning, e.Err} }

// PermissionError is returned when the socket exists but the caller may not
// open it: the file permissions allow only root and the socket's group.
type PermissionError struct {
	Socket string
	Err    error
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("permission denied on the pixie socket %s: run the command with sudo, or add your user to the socket's group (see `ls -l %s`) and log in again", e.Socket, e.Socket)
}

func (e *PermissionError) Unwrap() error { return e.Err }

// dialError turns a connection failure into the error a person can act on.
func dialError(socket string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ECONNREFUSED):
		fi, serr := os.Stat(socket)
		return &NotRunningError{Socket: socket, Err: err, NotSocket: serr == nil && fi.Mode().Type() != fs.ModeSocket}
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return &PermissionError{Socket: socket, Err: err}
	}
	return fmt.Errorf("could not connect to the pixie daemon on %s (%w): check `ls -l %s` and `pixie doctor`", socket, err, socket)
}
