package httpboot

import (
	"fmt"
	"strings"

	"github.com/pixie-boot/pixie/daemon/ipxearg"
	"github.com/pixie-boot/pixie/daemon/store"
)

// What iPXE's script parser does with a line, and so what a value put into
// a served script must not be able to do: a newline (or CR) ends the
// command, a NUL ends the C string early, a line ending in a backslash is
// joined with the next one, ${...} is replaced by a setting before the line
// is split into words, a word "||", "&&" or ";" ends the command and starts
// another, and a word starting with '#' makes the rest of the line a
// comment. Words are split at spaces, tabs and the other ASCII whitespace;
// quotes mean nothing.

// ipxeSyntax reports whether a word means something to iPXE's command
// parser wherever it appears on a line.
func ipxeSyntax(w string) bool { return ipxearg.Syntax(w) }

// inertText makes s safe as the arguments of an echo command: control
// bytes become spaces, "${" is split, script words are quoted and a final
// backslash gets a space after it, so the text is shown rather than run.
func inertText(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c == 0x7f {
			b[i] = ' '
		}
	}
	words := strings.Split(strings.ReplaceAll(string(b), "${", "$ {"), " ")
	for i, w := range words {
		if ipxeSyntax(w) {
			words[i] = "'" + w + "'"
		}
	}
	out := strings.Join(words, " ")
	if strings.HasSuffix(out, `\`) {
		out += " "
	}
	return out
}

// inertArgs refuses rendered kernel arguments that iPXE would read as
// script rather than pass to the kernel. Machine variables and hostnames
// reach the kernel line through the template, so they must not be able to
// add commands or cut off the script's own "|| goto failed". ${...} stays
// allowed: expanding iPXE settings in kernel arguments is a feature profiles
// may use, and the values the template inserts are the administrator's.
// The rule is ipxearg's, which the store also applies when a profile is
// saved.
func inertArgs(args string) error { return ipxearg.Check(args) }

// oneWordRefs checks that the profile's kernel and initrd URLs are single
// words for iPXE. Local paths are escaped by assetURL; a URL is used as
// written, so a space in it would split the kernel or initrd command.
func oneWordRefs(p store.Profile) error {
	for _, ref := range append([]string{p.Kernel}, p.Initrds...) {
		if strings.ContainsFunc(ref, func(c rune) bool { return c <= ' ' || c == 0x7f }) {
			return fmt.Errorf("profile %s: %q contains a space or control character: write it as %%20 or %%XX", p.Name, ref)
		}
	}
	return nil
}

// reportedHostname is the hostname iPXE reported, if it is a plain host
// name (dot-separated labels of letters, digits and inner '-', as the
// store requires of the hostnames it keeps), else "". It arrives in the
// query string, so anyone can send anything.
func reportedHostname(h string) string {
	if h == "" || len(h) > 253 {
		return ""
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return ""
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return ""
			}
		}
	}
	return h
}
