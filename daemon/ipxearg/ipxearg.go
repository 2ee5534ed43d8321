// Package ipxearg says which kernel arguments iPXE would not pass to the
// kernel. pixie puts a profile's kernel arguments on the iPXE "kernel"
// line of the boot script, and iPXE's script parser reads some words on
// that line as script: a word "||", "&&" or ";" ends the kernel command and
// starts another one, and a word starting with '#' turns the rest of the
// line (the Ignition URL, pixie's own "|| goto failed") into a comment.
// Control bytes can end the line or the C string early. Words are split at
// ASCII whitespace; quotes mean nothing to iPXE.
//
// The store refuses such a profile when it is saved (CheckTemplate) and
// httpboot refuses the rendered line when a machine boots (Check), with the
// same rule. ${...} stays allowed: expanding iPXE settings in kernel
// arguments is a feature profiles may use.
//
// The package is a leaf: it imports only the standard library.
package ipxearg

import (
	"fmt"
	"strings"
	"text/template/parse"
)

// Syntax reports whether a word means something to iPXE's command parser
// wherever it appears on a line.
func Syntax(w string) bool {
	return w == "||" || w == "&&" || w == ";" || strings.HasPrefix(w, "#")
}

// Error is a kernel command line iPXE would not pass to the kernel as it
// is: Word is the offending word, or Control the offending control byte
// when Word is "".
type Error struct {
	Word    string
	Control byte
}

// Error says what is wrong; the words "would be read by iPXE as script
// syntax" and "control byte 0x.." are stable (tests and logs match them).
func (e *Error) Error() string {
	if e.Word == "" {
		return fmt.Sprintf("control byte %#02x is not allowed", e.Control)
	}
	return fmt.Sprintf("%q would be read by iPXE as script syntax, not passed to the kernel", e.Word)
}

// Explain says, for a person editing the kernel arguments, what iPXE would
// do with the offending part and what to do about it.
func (e *Error) Explain() string {
	switch {
	case e.Word == "":
		return fmt.Sprintf("kernel arguments contain the control byte %#02x, which can end iPXE's kernel line early: remove it", e.Control)
	case strings.HasPrefix(e.Word, "#"):
		return fmt.Sprintf("kernel arguments contain the word %q: iPXE reads a word starting with '#' as a comment and would drop the rest of the line (the Ignition URL included) instead of passing it to the kernel: remove it, or put it in double quotes (\"%s\") if the kernel needs it", e.Word, e.Word)
	default:
		return fmt.Sprintf("kernel arguments contain the word %q, which iPXE would run as a command separator instead of passing it to the kernel: remove it, or put it in double quotes (\"%s\") if the kernel needs it", e.Word, e.Word)
	}
}

// isSpace is what iPXE (and strings.Fields, which httpboot folds the
// rendered line with) splits words at among ASCII bytes.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func isControl(c byte) bool { return (c < 0x20 || c == 0x7f) && !isSpace(c) }

// Check refuses a rendered kernel command line that iPXE would read as
// script rather than pass to the kernel. It returns nil or an *Error.
// Whitespace separates words; other control bytes are refused.
func Check(args string) error {
	for i := 0; i < len(args); i++ {
		if c := args[i]; isControl(c) {
			return &Error{Control: c}
		}
	}
	for _, w := range strings.Fields(args) {
		if Syntax(w) {
			return &Error{Word: w}
		}
	}
	return nil
}

// CheckTemplate checks a kernel-argument template (Go text/template
// syntax) before it is stored: the literal text around its {{...}}
// actions must not hold what Check refuses. What an action inserts is
// known only at boot, where Check runs again on the rendered line, so a
// word that touches an action is judged only by what is certain: a word
// starting with '#' is a comment whatever follows it. It returns nil or an
// *Error; a template that does not parse is left to the caller's parser.
func CheckTemplate(tmpl string) error {
	tr := parse.New("args")
	tr.Mode = parse.SkipFuncCheck
	trees := map[string]*parse.Tree{}
	if _, err := tr.Parse(tmpl, "", "", trees); err != nil {
		return nil
	}
	for _, t := range trees {
		if t.Root == nil {
			continue
		}
		var b strings.Builder
		flatten(&b, t.Root)
		if err := checkFlat(b.String()); err != nil {
			return err
		}
	}
	return nil
}

// opaque stands for whatever an action renders: not a space, and not part
// of any word Syntax matches (a lone 0xff byte is not valid UTF-8).
const opaque = "\xff"

// flatten writes a template's literal text, every action and every
// if/range/with boundary as opaque. Both branches of an if are written one
// after the other; the opaque between them keeps their words apart from
// a neighbour's only where it truly is apart.
func flatten(b *strings.Builder, n parse.Node) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			flatten(b, c)
		}
	case *parse.TextNode:
		b.Write(n.Text)
	case *parse.IfNode:
		flattenBranch(b, &n.BranchNode)
	case *parse.RangeNode:
		flattenBranch(b, &n.BranchNode)
	case *parse.WithNode:
		flattenBranch(b, &n.BranchNode)
	case *parse.CommentNode:
		// renders nothing
	default:
		b.WriteString(opaque)
	}
}

func flattenBranch(b *strings.Builder, n *parse.BranchNode) {
	b.WriteString(opaque)
	flatten(b, n.List)
	b.WriteString(opaque)
	if n.ElseList != nil {
		flatten(b, n.ElseList)
		b.WriteString(opaque)
	}
}

// checkFlat is Check on flattened template text: a word holding opaque is
// refused only when its own literal start is a '#'.
func checkFlat(s string) error {
	for i := 0; i < len(s); i++ {
		if c := s[i]; isControl(c) {
			return &Error{Control: c}
		}
	}
	for _, w := range strings.Fields(s) {
		if !strings.Contains(w, opaque) {
			if Syntax(w) {
				return &Error{Word: w}
			}
			continue
		}
		if strings.HasPrefix(w, "#") {
			lit, _, _ := strings.Cut(w, opaque)
			return &Error{Word: lit + "{{...}}"}
		}
	}
	return nil
}
