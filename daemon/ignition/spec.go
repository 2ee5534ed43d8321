package ignition

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/coreos/ignition/v2/config/util"
)

// A machine's Ignition refuses a config whose spec version is newer than
// the newest it knows ("unsupported config version"), even when the config
// uses nothing new. Butane's current variants produce 3.4 (fcos 1.5,
// flatcar 1.1) and 3.5 (fcos 1.6), while Debian 12's Ignition 2.14, say,
// reads up to 3.3. So a profile names the spec its OS reads, and pixie
// serves the config at that version: unchanged when it is old enough,
// rewritten to the older version when everything in it exists there, and
// refused, naming the fields, when it needs the newer spec.

// NormalizeSpec checks a spec version as a user writes it ("3.3", "3.3.0")
// and returns it as Ignition spells it ("3.3.0"); "" stays "" (no limit).
func NormalizeSpec(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	minor, err := specMinor(s)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("3.%d.0", minor), nil
}

func specMinor(s string) (int64, error) {
	bad := fmt.Errorf("Ignition spec %q: give a stable 3.x version from 3.0.0 to 3.5.0, e.g. 3.3.0", s)
	rest, ok := strings.CutPrefix(s, "3.")
	if !ok {
		return 0, bad
	}
	rest = strings.TrimSuffix(rest, ".0")
	minor, err := strconv.ParseInt(rest, 10, 64)
	if err != nil {
		return 0, bad
	}
	if _, ok := ignitionParsers()[minor]; !ok {
		return 0, bad
	}
	return minor, nil
}

// SpecFor is the newest Ignition spec a profile's machines read: the
// profile's own setting when it has one, else what pixie knows of the OS
// kind's Ignition, and of the image's release when the kernel is a pulled
// image's (kernel is the profile's kernel reference). "" means no limit
// (pixie's newest, 3.5.0) and is what pixie answers where it does not
// know: a generic OS's Ignition could be anything, so its profile should
// say.
func SpecFor(os, profileSpec, kernel string) string {
	if profileSpec != "" {
		return profileSpec
	}
	switch os {
	case "fedora-coreos":
		return fcosSpec(kernel)
	case "flatcar":
		// Butane's newest flatcar variant (1.1) produces 3.4.0, the spec
		// Flatcar's Ignition is documented to read.
		return "3.4.0"
	}
	return ""
}

// fcosSpec is the spec a Fedora CoreOS release's Ignition reads, from the
// Fedora release of a pulled image ("fedora-coreos/STREAM/ARCH/VERSION/...",
// VERSION like 41.20241027.3.0): Ignition 2.20 (spec 3.5.0) from Fedora
// CoreOS 41, 2.15 (3.4.0) from 38, 3.3.0 before. Where the kernel is not a
// pulled image the release is unknown, and the current one (3.5.0) is
// assumed; a profile for an older image can say --ignition-spec. When in
// doubt the older spec is the safe side: a config served at it is read by
// every newer Ignition too.
func fcosSpec(kernel string) string {
	parts := strings.Split(kernel, "/")
	if len(parts) < 5 || parts[0] != "fedora-coreos" {
		return "3.5.0"
	}
	major, err := strconv.Atoi(strings.SplitN(parts[3], ".", 2)[0])
	switch {
	case err != nil:
		return "3.5.0"
	case major >= 41:
		return "3.5.0"
	case major >= 38:
		return "3.4.0"
	}
	return "3.3.0"
}

// FitSpec returns raw, an Ignition config pixie rendered, at a spec
// version the machine's Ignition reads (maxSpec, from SpecFor): unchanged
// when it is no newer (or there is no limit, or it is a legacy spec 1/2
// config), else rewritten as maxSpec when nothing in it is lost by that. A
// config that uses fields maxSpec lacks is refused with the fields named:
// the machine's Ignition would refuse it at boot.
func FitSpec(raw []byte, maxSpec string) ([]byte, error) {
	if maxSpec == "" || Detect(string(raw)) == FormatLegacy {
		return raw, nil
	}
	max, err := specMinor(maxSpec)
	if err != nil {
		return nil, err
	}
	v, rpt, err := util.GetConfigVersion(raw)
	if err != nil {
		return nil, reportError("Ignition config", rpt, err)
	}
	if v.Major != 3 || v.Minor <= max {
		return raw, nil
	}
	have := v.String()
	down, lost, err := downgrade(raw, v.Minor, max)
	if err != nil {
		return nil, err
	}
	if len(lost) > 0 {
		return nil, fmt.Errorf("the config needs Ignition spec %s, and the machine's Ignition reads up to 3.%d.0: %s %s not in spec 3.%d.0; remove %s, or raise the profile's Ignition spec (--ignition-spec) if the OS's Ignition is newer",
			have, max, strings.Join(lost, ", "), isAre(len(lost)), max, itThem(len(lost)))
	}
	return down, nil
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func itThem(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

// downgrade rewrites raw (a valid config of spec 3.from) as spec 3.to: the
// config goes through the library's types of its own version, then is
// read back with the older version's types. Whatever the older types
// dropped is returned in lost, as JSON paths; the result is valid only
// when lost is empty.
func downgrade(raw []byte, from, to int64) (out []byte, lost []string, err error) {
	parsers := ignitionParsers()
	cfg, rpt, err := parsers[from].parse(raw)
	if err != nil {
		return nil, nil, reportError("Ignition config", rpt, err)
	}
	newer, err := json.Marshal(cfg)
	if err != nil {
		return nil, nil, err
	}
	var tree map[string]any
	if err := json.Unmarshal(newer, &tree); err != nil {
		return nil, nil, err
	}
	// The newer types marshal their empty sections ("kernelArguments":
	// {}, "proxy": {}): the older spec has no such keys, and nothing is
	// lost by leaving them out.
	prune(tree)
	if ign, ok := tree["ignition"].(map[string]any); ok {
		ign["version"] = fmt.Sprintf("3.%d.0", to)
	}
	relabeled, err := json.Marshal(tree)
	if err != nil {
		return nil, nil, err
	}
	old, rpt, err := parsers[to].parse(relabeled)
	if err != nil {
		// Valid in the newer spec, invalid in the older one (a value the
		// older validation refuses): say what the older spec objects to.
		return nil, []string{reportError("spec 3."+strconv.FormatInt(to, 10)+".0", rpt, err).Error()}, nil
	}
	if out, err = json.Marshal(old); err != nil {
		return nil, nil, err
	}
	var back map[string]any
	if err := json.Unmarshal(out, &back); err != nil {
		return nil, nil, err
	}
	lost = missing(tree, back, "")
	// A warning of the older parser (an unused key, a deprecated field)
	// would be refused by a strict Ignition too.
	if len(lost) == 0 && hasWarnings(rpt) {
		lost = append(lost, reportError("spec 3."+strconv.FormatInt(to, 10)+".0", rpt, nil).Error())
	}
	sort.Strings(lost)
	return out, lost, nil
}

// prune removes empty objects and lists (after pruning their insides)
// from a decoded JSON object; scalars, false and "" included, stay.
func prune(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		for k, c := range v {
			if c == nil || prune(c) {
				delete(v, k)
			}
		}
		return len(v) == 0
	case []any:
		for _, c := range v {
			prune(c)
		}
		return len(v) == 0
	}
	return false
}

// missing lists the paths (storage.luks.0.discard) where want holds a
// value got lacks or differs from.
func missing(want, got any, path string) []string {
	switch w := want.(type) {
	case map[string]any:
		g, _ := got.(map[string]any)
		var out []string
		for k, v := range w {
			out = append(out, missing(v, g[k], join(path, k))...)
		}
		return out
	case []any:
		g, _ := got.([]any)
		var out []string
		for i, v := range w {
			var gi any
			if i < len(g) {
				gi = g[i]
			}
			out = append(out, missing(v, gi, join(path, strconv.Itoa(i)))...)
		}
		return out
	default:
		if !reflect.DeepEqual(want, got) {
			return []string{path}
		}
		return nil
	}
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}
