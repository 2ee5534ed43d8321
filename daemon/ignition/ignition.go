// Package ignition turns a profile's (and a machine's) config into the
// Ignition JSON a booting machine fetches.
//
// A config is a Go text/template over the machine's variables. Its source
// is one of:
//
//   - Ignition JSON, spec 3.0 to 3.5, validated with the coreos/ignition
//     library;
//   - Butane YAML, variant fcos (Fedora CoreOS) or flatcar, translated to
//     Ignition with the coreos/butane library;
//   - a legacy config for classic Container Linux ("ignitionVersion": 1 or
//     "ignition": {"version": "2.x"}), served as-is once it is checked to be
//     a JSON object: no maintained Go library validates those specs.
//
// The pipeline is template → translate → validate → merge: the template is
// rendered first (so variables can appear anywhere, also in Butane), then a
// Butane result is translated, then the result is validated and a
// machine-level config, if any, is merged over the profile's with
// Ignition's own merge rules (the child wins; files, units and users are
// merged by path or name).
//
// Values should be inserted with the json function, e.g.
// {{json .Hostname}}: it quotes and escapes them, and a JSON string is also a
// valid YAML double-quoted string, so the same spelling is safe in Butane.
package ignition

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/template"
	"text/template/parse"
)

// Format is the kind of source a config is written in.
type Format string

const (
	FormatNone     Format = ""
	FormatIgnition Format = "ignition" // Ignition JSON spec 3.x
	FormatButane   Format = "butane"   // Butane YAML (fcos, flatcar)
	FormatLegacy   Format = "legacy"   // Ignition spec 1 or 2.x (classic Container Linux)
)

// Data is what a config template may use.
type Data struct {
	MAC       string
	IP        string
	Hostname  string
	Profile   string
	ServerURL string
	// PhoneHomeURL is where the booted OS reports it is done: the
	// profile's phone-home URL ("" when the profile has none).
	PhoneHomeURL string
	// PixiePhoneHomeURL is pixie's own /phone-home endpoint for this
	// machine and boot, which records the final "booted" stage. It equals
	// PhoneHomeURL when the profile's phone-home is "default".
	PixiePhoneHomeURL string
	SSHKeys           []string
	Vars              map[string]string
}

// Funcs are the functions config templates may call.
func Funcs() template.FuncMap {
	return template.FuncMap{
		// json quotes and escapes a value (JSON and YAML).
		"json": quoteJSON,
		// unitArg quotes a value as one argument of a systemd unit's
		// ExecStart= line: in double quotes, with backslashes and quotes
		// escaped and % doubled so systemd reads no specifier.
		"unitArg": UnitArg,
	}
}

// UnitArg quotes s as one systemd command-line argument (systemd.syntax:
// C-style escapes in double quotes; % starts a specifier, %% is a %).
func UnitArg(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "%", "%%", "\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(s) + `"`
}

// Detect says what a config's source is, from the template text. JSON
// configs start with '{'; anything else is taken for Butane YAML.
func Detect(src string) Format {
	s := strings.TrimSpace(src)
	switch {
	case s == "":
		return FormatNone
	case strings.HasPrefix(s, "{"):
		if legacyRE(s) {
			return FormatLegacy
		}
		return FormatIgnition
	default:
		return FormatButane
	}
}

// legacyRE spots a spec 1 ("ignitionVersion") or spec 2.x config without
// rendering the template.
func legacyRE(s string) bool {
	if strings.Contains(s, `"ignitionVersion"`) {
		return true
	}
	var head struct {
		Ignition struct {
			Version string `json:"version"`
		} `json:"ignition"`
	}
	if json.Unmarshal([]byte(s), &head) == nil {
		return strings.HasPrefix(head.Ignition.Version, "2.")
	}
	// A template that is not JSON before rendering: look for the version.
	i := strings.Index(s, `"version"`)
	if i < 0 {
		return false
	}
	rest := strings.TrimLeft(s[i+len(`"version"`):], " \t\r\n:")
	return strings.HasPrefix(rest, `"2.`)
}

// legacyAllowed says whether an OS kind may be given a legacy config.
func legacyAllowed(os string) bool { return os == "container-linux" || os == "generic" || os == "" }

func parseTemplate(name, src string, missing string) (*template.Template, error) {
	return template.New(name).Option("missingkey=" + missing).Funcs(Funcs()).Parse(src)
}

// Check validates a stored config template for an OS kind: it must parse as
// a template, and render with sample values into a config the libraries
// accept. Machine-specific values that break a config are caught again
// when it is rendered for that machine.
func Check(src, os string) error { return CheckSpec(src, os, "") }

// CheckSpec is Check for an OS whose Ignition reads up to spec (see
// FitSpec): the sample rendering must also fit that spec.
func CheckSpec(src, os, spec string) error {
	f := Detect(src)
	if f == FormatNone {
		return nil
	}
	t, err := parseTemplate("config", src, "zero")
	if err != nil {
		return fmt.Errorf("config template: %v", err)
	}
	out, err := execute(t, SampleData(t))
	if err != nil {
		return fmt.Errorf("config template: %v", err)
	}
	res, err := finish(f, out, os)
	if err != nil {
		return err
	}
	_, err = FitSpec(res, spec)
	return err
}

// CheckOverlay validates a machine-level config: it must be Ignition 3.x
// or Butane (a legacy config cannot be merged).
func CheckOverlay(src, os string) error {
	if Detect(src) == FormatLegacy {
		return errors.New("a machine's own config must be Ignition 3.x or Butane: legacy (spec 1/2) configs cannot be merged; put it in a profile instead")
	}
	return Check(src, os)
}

// Render renders the profile's config and the machine's overlay (either may
// be empty) for one machine and returns the Ignition JSON to serve.
func Render(profileSrc, machineSrc, os string, d Data) ([]byte, error) {
	if d.Vars == nil {
		d.Vars = map[string]string{}
	}
	base, err := renderOne("profile", profileSrc, os, d)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(machineSrc) == "" {
		if base == nil {
			return nil, errors.New("the profile has no Ignition config")
		}
		return base, nil
	}
	if Detect(machineSrc) == FormatLegacy {
		return nil, errors.New("machine config: legacy configs cannot be merged")
	}
	over, err := renderOne("machine", machineSrc, os, d)
	if err != nil {
		return nil, err
	}
	if base == nil {
		return over, nil
	}
	if Detect(profileSrc) == FormatLegacy {
		return nil, errors.New("the profile's legacy config cannot be merged with the machine's config")
	}
	return mergeIgnition(base, over)
}

func renderOne(which, src, os string, d Data) ([]byte, error) {
	f := Detect(src)
	if f == FormatNone {
		return nil, nil
	}
	t, err := parseTemplate(which, src, "error")
	if err != nil {
		return nil, fmt.Errorf("%s config template: %v", which, err)
	}
	out, err := execute(t, d)
	if err != nil {
		return nil, fmt.Errorf("%s config template: %v", which, err)
	}
	res, err := finish(f, out, os)
	if err != nil {
		return nil, fmt.Errorf("%s config: %w", which, err)
	}
	return res, nil
}

func execute(t *template.Template, d Data) ([]byte, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// finish translates and validates a rendered config.
func finish(f Format, out []byte, os string) ([]byte, error) {
	switch f {
	case FormatButane:
		ign, err := translateButane(out, os)
		if err != nil {
			return nil, err
		}
		return ign, nil
	case FormatLegacy:
		if !legacyAllowed(os) {
			return nil, fmt.Errorf("a legacy (spec 1/2) Ignition config is for classic Container Linux, not %s: use Ignition 3.x or Butane", os)
		}
		var obj map[string]any
		if err := json.Unmarshal(out, &obj); err != nil {
			return nil, fmt.Errorf("legacy Ignition config is not a JSON object: %v", jsonErrorAt(out, err))
		}
		return out, nil
	default:
		if !json.Valid(out) {
			var v any
			return nil, fmt.Errorf("Ignition config is not valid JSON: %v", jsonErrorAt(out, json.Unmarshal(out, &v)))
		}
		if err := validateIgnition(out); err != nil {
			return nil, err
		}
		return out, nil
	}
}

// jsonErrorAt adds line and column to a JSON syntax error.
func jsonErrorAt(src []byte, err error) error {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return err
	}
	line, col := 1, 1
	for _, c := range src[:min(int(se.Offset), len(src))] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Errorf("line %d col %d: %v", line, col, err)
}

// SampleData is what a template is checked with when it is stored: every
// .Vars.NAME the template mentions gets a sample value, so a template that
// uses variables a machine will provide still renders.
func SampleData(t *template.Template) Data {
	vars := map[string]string{}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			collectVars(tt.Tree.Root, vars)
		}
	}
	return Data{
		MAC:               "02:00:00:00:00:01",
		IP:                "192.0.2.10",
		Hostname:          "example",
		Profile:           "example",
		ServerURL:         "http://192.0.2.1:8080",
		PhoneHomeURL:      "http://192.0.2.1:8080/phone-home?mac=02-00-00-00-00-01&token=sample",
		PixiePhoneHomeURL: "http://192.0.2.1:8080/phone-home?mac=02-00-00-00-00-01&token=sample",
		SSHKeys:           []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJ5b3VyLWtleS1nb2VzLWhlcmU= sample"},
		Vars:              vars,
	}
}

func collectVars(n parse.Node, vars map[string]string) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			collectVars(c, vars)
		}
	case *parse.ActionNode:
		collectVars(n.Pipe, vars)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			collectVars(c, vars)
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			collectVars(a, vars)
		}
	case *parse.FieldNode:
		if len(n.Ident) >= 2 && n.Ident[0] == "Vars" {
			vars[n.Ident[1]] = "example-" + strings.ToLower(n.Ident[1])
		}
	case *parse.IfNode:
		collectBranch(&n.BranchNode, vars)
	case *parse.RangeNode:
		collectBranch(&n.BranchNode, vars)
	case *parse.WithNode:
		collectBranch(&n.BranchNode, vars)
	case *parse.TemplateNode:
		collectVars(n.Pipe, vars)
	}
}

func collectBranch(b *parse.BranchNode, vars map[string]string) {
	collectVars(b.Pipe, vars)
	collectVars(b.List, vars)
	if b.ElseList != nil {
		collectVars(b.ElseList, vars)
	}
}

func sortStrings(s []string) { sort.Strings(s) }
