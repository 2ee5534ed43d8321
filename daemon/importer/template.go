package importer

import (
	"fmt"
	"sort"
	"strings"
	"text/template/parse"
)

// builtins are the functions text/template defines; matchbox adds none, so
// a matchbox template may call only these.
var builtinNames = []string{"and", "call", "eq", "ge", "gt", "html", "index", "js", "le", "len", "lt", "ne", "not", "or", "print", "printf", "println", "slice", "urlquery"}

// sshKeyNames are metadata names matchbox examples give a list of a
// machine's SSH keys; pixie's configs see such a list as .SSHKeys (its
// ssh_keys variable, one key a line).
var sshKeyNames = map[string]bool{"ssh_authorized_keys": true, "ssh_keys": true}

// translateTemplate rewrites the names a matchbox template uses into
// pixie's (see the package doc). It returns the new text and what it
// changed; an error says why the template cannot be carried over (it does
// not parse, or it uses something pixie does not know of a machine).
// lists names the metadata keys whose values are lists in some group.
func translateTemplate(name, src string, lists map[string]bool) (string, []string, error) {
	if !strings.Contains(src, "{{") {
		return src, nil, nil
	}
	funcs := map[string]any{}
	for _, f := range builtinNames {
		funcs[f] = true // parse only checks that a name is there
	}
	// Pixie's own functions, for a template already written for pixie.
	funcs["json"], funcs["unitArg"] = true, true
	trees, err := parse.Parse(name, src, "", "", funcs)
	if err != nil {
		return "", nil, fmt.Errorf("template does not parse: %v", cleanParseErr(err))
	}
	tr := &translator{changed: map[string]string{}, lists: lists}
	var out strings.Builder
	for _, n := range sortedKeys(trees) {
		t := trees[n]
		if t.Root == nil {
			continue
		}
		tr.list(t.Root, true)
		if n != name {
			// A {{define}}d template: keep it as a define block.
			fmt.Fprintf(&out, "{{define %q}}%s{{end}}", n, t.Root.String())
		}
	}
	if tr.err != nil {
		return "", nil, tr.err
	}
	if main := trees[name]; main != nil && main.Root != nil {
		out.WriteString(main.Root.String())
	}
	var changes []string
	for _, from := range sortedKeys(tr.changed) {
		changes = append(changes, from+" → "+tr.changed[from])
	}
	if len(changes) > 0 {
		changes = []string{"template names " + strings.Join(changes, ", ")}
	}
	return out.String(), changes, nil
}

func cleanParseErr(err error) string {
	s := err.Error()
	if i := strings.Index(s, "template: "); i == 0 {
		s = s[len("template: "):]
	}
	return s
}

type translator struct {
	changed map[string]string
	lists   map[string]bool
	err     error
}

func (t *translator) fail(format string, args ...any) {
	if t.err == nil {
		t.err = fmt.Errorf(format, args...)
	}
}

// list walks a list of nodes; dot says whether "." is still the template's
// top-level data there (inside range and with it is something else).
func (t *translator) list(l *parse.ListNode, dot bool) {
	if l == nil {
		return
	}
	for _, n := range l.Nodes {
		t.node(n, dot)
	}
}

func (t *translator) node(n parse.Node, dot bool) {
	switch n := n.(type) {
	case *parse.ActionNode:
		t.pipe(n.Pipe, dot)
	case *parse.IfNode:
		t.pipe(n.Pipe, dot)
		t.list(n.List, dot)
		t.list(n.ElseList, dot)
	case *parse.RangeNode:
		t.pipe(n.Pipe, dot)
		t.list(n.List, false)
		t.list(n.ElseList, dot)
	case *parse.WithNode:
		t.pipe(n.Pipe, dot)
		t.list(n.List, false)
		t.list(n.ElseList, dot)
	case *parse.TemplateNode:
		t.pipe(n.Pipe, dot)
	}
}

func (t *translator) pipe(p *parse.PipeNode, dot bool) {
	if p == nil {
		return
	}
	for _, c := range p.Cmds {
		t.command(c, dot)
	}
}

func (t *translator) command(c *parse.CommandNode, dot bool) {
	for _, a := range c.Args {
		switch a := a.(type) {
		case *parse.FieldNode:
			if !dot {
				continue
			}
			if len(a.Ident) == 2 && a.Ident[0] == "request" && a.Ident[1] == "raw_query" {
				// The query of pixie's own URLs: the MAC.
				t.changed[".request.raw_query"] = `mac={{.MAC}}`
				if len(c.Args) == 1 {
					c.Args = []parse.Node{&parse.IdentifierNode{NodeType: parse.NodeIdentifier, Ident: "printf"},
						&parse.StringNode{NodeType: parse.NodeString, Quoted: `"mac=%s"`, Text: "mac=%s"},
						&parse.FieldNode{NodeType: parse.NodeField, Ident: []string{"MAC"}}}
					return
				}
				t.fail("uses .request.raw_query inside an expression: pixie has no such value; write mac={{.MAC}} in its place")
				return
			}
			if to, ok := t.path(a.Ident); ok {
				a.Ident = to
			}
		case *parse.VariableNode:
			// $.mac is the top-level data wherever it appears.
			if len(a.Ident) > 1 && a.Ident[0] == "$" {
				if to, ok := t.path(a.Ident[1:]); ok {
					a.Ident = append([]string{"$"}, to...)
				}
			}
		case *parse.ChainNode:
			t.chainArg(a, dot)
		case *parse.PipeNode:
			t.pipe(a, dot)
		}
	}
}

func (t *translator) chainArg(c *parse.ChainNode, dot bool) {
	if p, ok := c.Node.(*parse.PipeNode); ok {
		t.pipe(p, dot)
	}
}

// path maps one top-level name path of matchbox's template data to
// pixie's. ok is false when the path is left as it is.
func (t *translator) path(id []string) ([]string, bool) {
	from := "." + strings.Join(id, ".")
	set := func(to []string) ([]string, bool) {
		t.changed[from] = "." + strings.Join(to, ".")
		return to, true
	}
	head := id[0]
	if head != "" && head[0] >= 'A' && head[0] <= 'Z' {
		return nil, false // pixie's own names (.MAC, .Vars...): already translated
	}
	switch {
	case len(id) == 1 && head == "mac":
		return set([]string{"MAC"})
	case len(id) == 1 && head == "hostname":
		return set([]string{"Hostname"})
	case head == "uuid" || head == "serial":
		t.fail("uses %s: pixie selects and knows machines by MAC only, and has no %s to give the template", from, head)
	case head == "request":
		switch {
		case len(id) == 3 && id[1] == "query" && id[2] == "mac":
			return set([]string{"MAC"})
		case len(id) == 3 && id[1] == "query":
			return set([]string{"Vars", varName(id[2])})
		default:
			t.fail("uses %s: pixie has no such value", from)
		}
	case head == "metadata" && len(id) == 2:
		return t.metaVar(from, id[1])
	case head == "metadata":
		t.fail("uses %s: nested metadata; pixie's variables are flat text (.Vars.NAME)", from)
	case len(id) == 1:
		return t.metaVar(from, head)
	default:
		t.fail("uses %s: nested metadata; pixie's variables are flat text (.Vars.NAME)", from)
	}
	return nil, false
}

func (t *translator) metaVar(from, name string) ([]string, bool) {
	to := []string{"Vars", varName(name)}
	switch {
	case t.lists[name] && sshKeyNames[name]:
		to = []string{"SSHKeys"}
	case t.lists[name]:
		t.fail("uses %s, a list in the groups' metadata: pixie's variables are text (only SSH key lists, as .SSHKeys, stay lists)", from)
		return nil, false
	}
	t.changed[from] = "." + strings.Join(to, ".")
	return to, true
}

// varName spells a metadata key as a pixie variable name: letters, digits
// and '_'.
func varName(k string) string {
	b := []byte(k)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	s := string(b)
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		s = "_" + s
	}
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
