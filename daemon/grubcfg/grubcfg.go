// Package grubcfg writes the GRUB configs pixie serves to machines on the
// shim -> GRUB loader, and knows the file names GRUB asks a network boot
// server for.
//
// Nothing a client or a profile variable sends may become a GRUB command.
// GRUB's script lexer gives meaning to newlines, ';', '&', '|', '<', '>',
// '$' (variable expansion, also inside double quotes), double quotes,
// backslash, '{', '}', '#' at the start of a word and, with the regexp
// module, '*', '?' and '['. Inside single quotes it gives meaning to
// nothing but the closing quote. So every value is written as one
// single-quoted word, each embedded single quote becoming quote,
// backslash, quote, quote (close, an escaped quote, reopen), and control
// bytes, which have no business in a kernel
// argument or a path, are refused (Quote) or shown as spaces (echo text).
package grubcfg

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrUnquotable is what Quote returns for a value with a byte that GRUB
// would not pass through literally or that no kernel argument or path
// has: NUL, newline and the other control bytes.
var ErrUnquotable = errors.New("cannot be quoted for GRUB")

// Quote returns s as one single-quoted GRUB word that stands for exactly
// s, or an error wrapping ErrUnquotable.
func Quote(s string) (string, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return "", fmt.Errorf("%q: byte %#02x %w", cut(s), c, ErrUnquotable)
		}
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'", nil
}

// text quotes s for an echo line: control bytes become spaces first, so
// any message can be shown.
func text(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c == 0x7f {
			b[i] = ' '
		}
	}
	q, _ := Quote(string(b)) // cannot fail: no control bytes left
	return q
}

func cut(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// Boot is what one machine's GRUB config loads.
type Boot struct {
	// Banner is shown on the console first ("pixie: booting ...").
	Banner string
	// Kernel and Initrds are GRUB paths, e.g. "(tftp,10.0.0.2)/pixie/...".
	Kernel  string
	Initrds []string
	// Args are the kernel arguments, one per element; GRUB joins them
	// with spaces.
	Args []string
	// Failed is shown when loading or starting fails; then the config
	// waits and reloads itself (Retry).
	Failed string
	Retry  Retry
}

// Retry is how a config starts over: after Seconds it loads Reload, the
// GRUB path of this same config, so a fix on the server needs no trip to
// the machine.
type Retry struct {
	Reload  string
	Seconds int
}

// Config renders b. It fails, saying which value, when a path or argument
// cannot be quoted.
func Config(b Boot) (string, error) {
	kernel, err := Quote(b.Kernel)
	if err != nil {
		return "", fmt.Errorf("kernel path %w", err)
	}
	line := []string{"linux", kernel}
	for _, a := range b.Args {
		q, err := Quote(a)
		if err != nil {
			return "", fmt.Errorf("kernel argument %w", err)
		}
		line = append(line, q)
	}
	initrd := []string{"initrd"}
	for _, p := range b.Initrds {
		q, err := Quote(p)
		if err != nil {
			return "", fmt.Errorf("initrd path %w", err)
		}
		initrd = append(initrd, q)
	}
	reload, err := b.Retry.quoted()
	if err != nil {
		return "", err
	}
	var w strings.Builder
	w.WriteString("# pixie: generated for this boot; do not edit\n")
	w.WriteString("echo " + text(b.Banner) + "\n")
	// Nested ifs, so a failed step goes straight to the message instead
	// of running the next command against nothing.
	w.WriteString("if " + strings.Join(line, " ") + "; then\n")
	if len(b.Initrds) > 0 {
		w.WriteString("  if " + strings.Join(initrd, " ") + "; then\n    boot\n  fi\n")
	} else {
		w.WriteString("  boot\n")
	}
	w.WriteString("fi\n")
	w.WriteString("echo " + text(b.Failed) + "\n")
	writeRetry(&w, b.Retry.Seconds, reload)
	return w.String(), nil
}

// Error renders a config that shows lines (what is missing and how to fix
// it on the server), waits and reloads itself.
func Error(lines []string, r Retry) string {
	reload, err := r.quoted()
	var w strings.Builder
	w.WriteString("# pixie: this machine cannot boot yet\n")
	for _, l := range lines {
		w.WriteString("echo " + text("pixie: "+l) + "\n")
	}
	if err != nil {
		// No way back to this config: say so, and stop at GRUB's prompt
		// rather than loop on a broken path.
		w.WriteString("echo " + text("pixie: cannot retry: "+err.Error()) + "\n")
		return w.String()
	}
	writeRetry(&w, r.Seconds, reload)
	return w.String()
}

func (r Retry) quoted() (string, error) {
	q, err := Quote(r.Reload)
	if err != nil {
		return "", fmt.Errorf("reload path %w", err)
	}
	return q, nil
}

func writeRetry(w *strings.Builder, seconds int, reload string) {
	if seconds <= 0 {
		seconds = 30
	}
	s := strconv.Itoa(seconds)
	w.WriteString("echo " + text("pixie: retrying in "+s+" seconds") + "\n")
	w.WriteString("sleep " + s + "\n")
	w.WriteString("configfile " + reload + "\n")
}
