package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pixie-boot/pixie/daemon/hwaddr"
)

// usageErr marks a mistake on the command line (exit code 2, and a pointer
// to --help), as opposed to a failure while running.
type usageErr struct{ err error }

func (e *usageErr) Error() string { return e.err.Error() }
func (e *usageErr) Unwrap() error { return e.err }

// usageError marks err as a command-line mistake.
func usageError(err error) error { return &usageErr{err} }

func usageErrorf(format string, args ...any) error { return usageError(fmt.Errorf(format, args...)) }

// worded is an error whose message replaces a library's, while errors.Is
// and errors.As still see the original.
type worded struct {
	msg string
	err error
}

func (e *worded) Error() string { return e.msg }
func (e *worded) Unwrap() error { return e.err }

// reword gives err the message format makes.
func reword(err error, format string, args ...any) error {
	return &worded{msg: fmt.Sprintf(format, args...), err: err}
}

// flagValueWants says, by pflag value type, what a flag's value must look
// like.
var flagValueWants = map[string]string{
	"int":      "a whole number",
	"int64":    "a whole number",
	"bool":     "true or false, or leave the value out",
	"duration": "a duration like 30s, 2m or 1h30m",
}

// flagError rewords pflag's "invalid argument ... strconv.ParseInt: ..."
// as what the value must be.
func flagError(err error) error {
	var iv *pflag.InvalidValueError
	if !errors.As(err, &iv) {
		return err
	}
	fl := iv.GetFlag()
	want, ok := flagValueWants[fl.Value.Type()]
	if !ok {
		return err
	}
	return fmt.Errorf("--%s %q: give %s", fl.Name, iv.GetValue(), want)
}

func isUsageError(err error) bool {
	var ue *usageErr
	return errors.As(err, &ue)
}

// exactArgs wants n arguments, described by what ("one MAC address").
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		if n == 0 {
			return usageErrorf("%s takes no arguments, got %q", cmd.CommandPath(), strings.Join(args, " "))
		}
		plural := "s"
		if len(args) == 1 {
			plural = ""
		}
		return usageErrorf("%s takes %s (got %d argument%s)", cmd.CommandPath(), what, len(args), plural)
	}
}

// noArgs is for commands that take no arguments.
func noArgs(cmd *cobra.Command, args []string) error { return exactArgs(0, "")(cmd, args) }

const macExample = "90:2b:34:14:f6:6a"

// parseMAC accepts a MAC address in any spelling hwaddr knows; a bad one is
// a usage error that shows how to write it.
func parseMAC(s string) (string, error) {
	mac, err := hwaddr.Parse(s)
	var he *hwaddr.Error
	switch {
	case err == nil:
		return mac, nil
	case errors.As(err, &he) && he.Problem == hwaddr.NotMAC:
		return "", usageErrorf("%q is not a MAC address: write it like %s", s, hwaddr.Spellings)
	case errors.As(err, &he) && he.Problem == hwaddr.Empty:
		return "", usageError(err)
	}
	return "", usageErrorf("invalid %v", err)
}
