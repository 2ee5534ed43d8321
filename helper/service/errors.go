package service

import (
	"fmt"
	"strings"
)

// wordedError is an error whose message pixie wrote, while errors.Is and
// errors.As still see the cause (a *fs.PathError the CLI rewords, an
// exec error).
type wordedError struct {
	msg string
	err error
}

func (e *wordedError) Error() string { return e.msg }
func (e *wordedError) Unwrap() error { return e.err }

// managerFailed says that the OS's service manager refused what pixie
// asked (what), quoting the manager, and where to look next. launchctl's
// failures are worded already (launchctlError) and name the command to
// check; they are passed on as they are.
func managerFailed(goos, what string, err error) error {
	check := CheckCommand(goos)
	said := strings.TrimSpace(err.Error())
	if strings.Contains(said, check) {
		return &wordedError{msg: what + ": " + said, err: err}
	}
	return &wordedError{msg: fmt.Sprintf("%s: %s said %q; see `%s`", what, kindFor(goos), said, check), err: err}
}
