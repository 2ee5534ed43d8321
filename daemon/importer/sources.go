package importer

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
)

// srcProfile is a matchbox profile or a bootcfg spec, as the tree says.
type srcProfile struct {
	ID, From, Title string
	Kernel          string
	Initrds         []string
	Args            []string // words
	IgnitionID      string
	GenericID       string
	CloudID         string
}

// srcGroup is a matchbox group or a bootcfg machine.
type srcGroup struct {
	ID, From, Title string
	Profile         string
	Selector        map[string]string
	Metadata        map[string]any
}

// tree is what the client sent, by path.
type tree struct {
	files  map[string]string
	assets map[string]assetFile
}

type assetFile struct {
	Size   int64
	SHA256 string
}

// layout says where a source keeps things.
type layout struct {
	source     string
	configDir  string // "ignition/"
	genericDir string
	assetURL   string // the old server's URL path of assets: "/assets/"
	assetDir   string // where they are in the tree: "assets/"
	matchbox   bool
}

// jsonProblem words a JSON decoding error with the line it is on.
func jsonProblem(src string, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("not valid JSON: line %d: %v", lineOf(src, se.Offset), se)
	case errors.As(err, &te):
		return fmt.Sprintf("line %d: %s should be %s, not %s", lineOf(src, te.Offset), te.Field, te.Type, te.Value)
	}
	return "not valid JSON: " + err.Error()
}

func lineOf(src string, off int64) int {
	if off > int64(len(src)) {
		off = int64(len(src))
	}
	return strings.Count(src[:off], "\n") + 1
}

// matchbox profile and group files.
type mbProfile struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	IgnitionID string `json:"ignition_id"`
	GenericID  string `json:"generic_id"`
	CloudID    string `json:"cloud_id"`
	Boot       struct {
		Kernel  string            `json:"kernel"`
		Initrd  []string          `json:"initrd"`
		Args    []string          `json:"args"`
		Cmdline map[string]string `json:"cmdline"`
	} `json:"boot"`
}

type mbGroup struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Profile  string            `json:"profile"`
	Selector map[string]string `json:"selector"`
	Metadata map[string]any    `json:"metadata"`
}

func (p mbProfile) src(from string) srcProfile {
	words := append(cmdlineWords(p.Boot.Cmdline), p.Boot.Args...)
	return srcProfile{ID: p.ID, From: from, Title: p.Name, Kernel: p.Boot.Kernel, Initrds: p.Boot.Initrd, Args: words,
		IgnitionID: p.IgnitionID, GenericID: p.GenericID, CloudID: p.CloudID}
}

// readMatchbox reads profiles/*.json and groups/*.json (matchbox reads
// only the top level of each).
func readMatchbox(t tree) ([]srcProfile, []srcGroup, []rowT) {
	var profiles []srcProfile
	var groups []srcGroup
	var rows []rowT
	for _, p := range sortedKeys(t.files) {
		dir, file := path.Split(p)
		if !strings.HasSuffix(file, ".json") {
			continue
		}
		stem := strings.TrimSuffix(file, ".json")
		src := t.files[p]
		switch dir {
		case "profiles/":
			var mp mbProfile
			if err := strictJSON(src, &mp); err != nil {
				rows = append(rows, skip("profile", stem, p, jsonProblem(src, err)))
				continue
			}
			if mp.ID == "" {
				mp.ID = stem
			}
			profiles = append(profiles, mp.src(p))
		case "groups/":
			var g mbGroup
			if err := strictJSON(src, &g); err != nil {
				rows = append(rows, skip("group", stem, p, jsonProblem(src, err)))
				continue
			}
			if g.ID == "" {
				g.ID = stem
			}
			groups = append(groups, srcGroup{ID: g.ID, From: p, Title: g.Name, Profile: g.Profile, Selector: g.Selector, Metadata: g.Metadata})
		}
	}
	return profiles, groups, rows
}

// bootcfg (coreos-baremetal, early 2016) spec and machine files.
type bcSpec struct {
	ID   string `json:"id"`
	Boot struct {
		Kernel  string            `json:"kernel"`
		Initrd  []string          `json:"initrd"`
		Cmdline map[string]string `json:"cmdline"`
		Args    []string          `json:"args"`
	} `json:"boot"`
	IgnitionID string `json:"ignition_id"`
	CloudID    string `json:"cloud_id"`
}

type bcMachine struct {
	ID       string         `json:"id"`
	SpecID   string         `json:"spec_id"`
	Spec     *bcSpec        `json:"spec"`
	Metadata map[string]any `json:"metadata"`
}

func (s bcSpec) src(from string) srcProfile {
	return srcProfile{ID: s.ID, From: from, Kernel: s.Boot.Kernel, Initrds: s.Boot.Initrd,
		Args: append(cmdlineWords(s.Boot.Cmdline), s.Boot.Args...), IgnitionID: s.IgnitionID, CloudID: s.CloudID}
}

// readBootcfg reads data/specs/<id>/spec.json (the guide also spells it
// data/spec/), and machines from data/machines/<id>/machine.json or, as
// the guide has them, data/<MAC>/machine.json. A tree given as the data
// directory itself has the same files without "data/".
func readBootcfg(t tree) ([]srcProfile, []srcGroup, []rowT, string) {
	data := ""
	for p := range t.files {
		if strings.HasPrefix(p, "data/") {
			data = "data/"
			break
		}
	}
	var profiles []srcProfile
	var groups []srcGroup
	var rows []rowT
	for _, p := range sortedKeys(t.files) {
		rel, ok := strings.CutPrefix(p, data)
		if !ok {
			continue
		}
		parts := strings.Split(rel, "/")
		src := t.files[p]
		switch {
		case len(parts) == 3 && (parts[0] == "specs" || parts[0] == "spec") && parts[2] == "spec.json":
			var s bcSpec
			if err := strictJSON(src, &s); err != nil {
				rows = append(rows, skip("profile", parts[1], p, jsonProblem(src, err)))
				continue
			}
			if s.ID == "" {
				s.ID = parts[1]
			}
			profiles = append(profiles, s.src(p))
		case (len(parts) == 3 && parts[0] == "machines" && parts[2] == "machine.json") || (len(parts) == 2 && parts[1] == "machine.json"):
			id := parts[len(parts)-2]
			var m bcMachine
			if err := strictJSON(src, &m); err != nil {
				rows = append(rows, skip("machine", id, p, jsonProblem(src, err)))
				continue
			}
			g := srcGroup{ID: id, From: p, Profile: m.SpecID, Metadata: m.Metadata}
			if m.Spec != nil {
				// A machine with its own spec: a profile of its own.
				if m.Spec.ID == "" {
					m.Spec.ID = "machine-" + id
				}
				profiles = append(profiles, m.Spec.src(p))
				g.Profile = m.Spec.ID
			}
			switch {
			case id == "default":
				// bootcfg's default machine: no selector.
			case looksLikeMAC(id):
				g.Selector = map[string]string{"mac": id}
			default:
				g.Selector = map[string]string{"uuid": id}
			}
			groups = append(groups, g)
		}
	}
	sort.SliceStable(profiles, func(i, j int) bool { return profiles[i].ID < profiles[j].ID })
	return profiles, groups, rows, data
}

func looksLikeMAC(s string) bool {
	return strings.Count(s, ":") == 5 || strings.Count(s, "-") == 5 && len(s) == 17
}

// strictJSON decodes one JSON object, refusing trailing data; unknown
// fields are allowed (both tools have grown fields pixie has no use for).
func strictJSON(src string, v any) error {
	dec := json.NewDecoder(strings.NewReader(src))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the JSON object")
	}
	return nil
}
