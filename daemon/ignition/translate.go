package ignition

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/coreos/butane/config/common"
	fcos1_0 "github.com/coreos/butane/config/fcos/v1_0"
	fcos1_1 "github.com/coreos/butane/config/fcos/v1_1"
	fcos1_2 "github.com/coreos/butane/config/fcos/v1_2"
	fcos1_3 "github.com/coreos/butane/config/fcos/v1_3"
	fcos1_4 "github.com/coreos/butane/config/fcos/v1_4"
	fcos1_5 "github.com/coreos/butane/config/fcos/v1_5"
	fcos1_6 "github.com/coreos/butane/config/fcos/v1_6"
	flatcar1_0 "github.com/coreos/butane/config/flatcar/v1_0"
	flatcar1_1 "github.com/coreos/butane/config/flatcar/v1_1"
	"github.com/coreos/go-semver/semver"
	"github.com/coreos/ignition/v2/config/util"
	v3_0 "github.com/coreos/ignition/v2/config/v3_0"
	v3_1 "github.com/coreos/ignition/v2/config/v3_1"
	v3_2 "github.com/coreos/ignition/v2/config/v3_2"
	v3_3 "github.com/coreos/ignition/v2/config/v3_3"
	v3_4 "github.com/coreos/ignition/v2/config/v3_4"
	v3_5 "github.com/coreos/ignition/v2/config/v3_5"
	"github.com/coreos/vcontext/report"
	"gopkg.in/yaml.v3"
)

// butaneTranslator turns one Butane spec version into Ignition JSON.
type butaneTranslator func([]byte, common.TranslateBytesOptions) ([]byte, report.Report, error)

// butaneVersions are the stable Butane specs pixie accepts, keyed by
// "variant+version". Only the fcos and flatcar variants: the others
// (openshift, r4e, fiot) are for OSes pixie does not boot. Experimental
// specs are left out on purpose: they produce experimental Ignition specs
// that released OS images refuse.
func butaneVersions() map[string]butaneTranslator {
	return map[string]butaneTranslator{
		"fcos+1.0.0":    fcos1_0.ToIgn3_0Bytes,
		"fcos+1.1.0":    fcos1_1.ToIgn3_1Bytes,
		"fcos+1.2.0":    fcos1_2.ToIgn3_2Bytes,
		"fcos+1.3.0":    fcos1_3.ToIgn3_2Bytes,
		"fcos+1.4.0":    fcos1_4.ToIgn3_3Bytes,
		"fcos+1.5.0":    fcos1_5.ToIgn3_4Bytes,
		"fcos+1.6.0":    fcos1_6.ToIgn3_5Bytes,
		"flatcar+1.0.0": flatcar1_0.ToIgn3_3Bytes,
		"flatcar+1.1.0": flatcar1_1.ToIgn3_4Bytes,
	}
}

// ignitionParser parses (and validates) an Ignition 3.x config of its
// version or older, and merges two configs of its version.
type ignitionParser struct {
	parse func(raw []byte) (any, report.Report, error)
	merge func(parent, child any) any
}

func parserFor[C any](parse func([]byte) (C, report.Report, error), merge func(C, C) C) ignitionParser {
	return ignitionParser{
		parse: func(raw []byte) (any, report.Report, error) { return parse(raw) },
		merge: func(p, c any) any { return merge(p.(C), c.(C)) },
	}
}

// ignitionParsers maps a 3.x minor version to the library's parser for it.
// 3.6 is still experimental in this library release and is not accepted.
func ignitionParsers() map[int64]ignitionParser {
	return map[int64]ignitionParser{
		0: parserFor(v3_0.ParseCompatibleVersion, v3_0.Merge),
		1: parserFor(v3_1.ParseCompatibleVersion, v3_1.Merge),
		2: parserFor(v3_2.ParseCompatibleVersion, v3_2.Merge),
		3: parserFor(v3_3.ParseCompatibleVersion, v3_3.Merge),
		4: parserFor(v3_4.ParseCompatibleVersion, v3_4.Merge),
		5: parserFor(v3_5.ParseCompatibleVersion, v3_5.Merge),
	}
}

// translateButane turns Butane YAML into Ignition JSON with the library,
// refusing a variant that does not fit the OS.
func translateButane(src []byte, os string) ([]byte, error) {
	var head struct {
		Variant string `yaml:"variant"`
		Version string `yaml:"version"`
	}
	if err := yaml.Unmarshal(src, &head); err != nil {
		return nil, fmt.Errorf("Butane config is not valid YAML: %v", err)
	}
	if want := variantFor(os); want != "" && head.Variant != want {
		return nil, fmt.Errorf("Butane variant %q does not fit OS %s: use \"variant: %s\"", head.Variant, os, want)
	}
	if _, err := semver.NewVersion(head.Version); err != nil {
		return nil, fmt.Errorf("Butane config: version %q is not a version like 1.5.0", head.Version)
	}
	tr, ok := butaneVersions()[head.Variant+"+"+head.Version]
	if !ok {
		return nil, fmt.Errorf("Butane variant %q version %s is not supported (supported: %s)", head.Variant, head.Version, supportedButane())
	}
	out, rpt, err := tr(src, common.TranslateBytesOptions{Raw: true})
	if err != nil {
		return nil, reportError("Butane config", rpt, err)
	}
	if rpt.IsFatal() || hasWarnings(rpt) {
		return nil, reportError("Butane config", rpt, errors.New("translation failed"))
	}
	return out, nil
}

func supportedButane() string {
	var out []string
	for k := range butaneVersions() {
		out = append(out, strings.Replace(k, "+", " ", 1))
	}
	sortStrings(out)
	return strings.Join(out, ", ")
}

// variantFor is the Butane variant an OS kind needs; "" accepts any.
func variantFor(os string) string {
	switch os {
	case "fedora-coreos":
		return "fcos"
	case "flatcar":
		return "flatcar"
	}
	return ""
}

// ignitionMinor returns the minor version of an Ignition 3.x config.
func ignitionMinor(raw []byte) (int64, error) {
	v, rpt, err := util.GetConfigVersion(raw)
	if err != nil {
		return 0, reportError("Ignition config", rpt, err)
	}
	if v.Major != 3 {
		return 0, fmt.Errorf("Ignition config version %s: pixie serves spec 3.x (or a legacy 2.x config to classic Container Linux)", v)
	}
	if v.PreRelease != "" {
		return 0, fmt.Errorf("Ignition config version %s is experimental: released OS images refuse it; use a stable 3.x version", v)
	}
	if _, ok := ignitionParsers()[v.Minor]; !ok {
		return 0, fmt.Errorf("Ignition config version %s is not supported by this pixie (3.0.0 to 3.5.0)", v)
	}
	return v.Minor, nil
}

// validateIgnition parses and validates an Ignition 3.x config.
func validateIgnition(raw []byte) error {
	minor, err := ignitionMinor(raw)
	if err != nil {
		return err
	}
	_, rpt, err := ignitionParsers()[minor].parse(raw)
	if err != nil || hasWarnings(rpt) {
		return reportError("Ignition config", rpt, err)
	}
	return nil
}

// mergeIgnition merges child over parent the way Ignition merges
// ignition.config.merge entries: child values win, lists are merged by key
// (files by path, units by name, users by name). The result has the newer
// of the two versions.
func mergeIgnition(parent, child []byte) ([]byte, error) {
	pm, err := ignitionMinor(parent)
	if err != nil {
		return nil, fmt.Errorf("profile's config: %w", err)
	}
	cm, err := ignitionMinor(child)
	if err != nil {
		return nil, fmt.Errorf("machine's config: %w", err)
	}
	p := ignitionParsers()[max(pm, cm)]
	pc, rpt, err := p.parse(parent)
	if err != nil {
		return nil, reportError("profile's Ignition config", rpt, err)
	}
	cc, rpt, err := p.parse(child)
	if err != nil {
		return nil, reportError("machine's Ignition config", rpt, err)
	}
	out, err := json.Marshal(p.merge(pc, cc))
	if err != nil {
		return nil, err
	}
	// Two valid configs can merge into an invalid one (the machine's link
	// at a directory of the profile's files, say): the booting machine's
	// Ignition would refuse it, so pixie refuses to serve it.
	if err := validateIgnition(out); err != nil {
		return nil, fmt.Errorf("the machine's config merged over the profile's: %w", err)
	}
	return out, nil
}

// hasWarnings: pixie is strict, like `butane --strict`: a warning (an
// unused key is usually a typo) refuses the config too.
func hasWarnings(rpt report.Report) bool {
	for _, e := range rpt.Entries {
		if e.Kind == report.Warn {
			return true
		}
	}
	return false
}

// reportError joins the library's report entries (with line and column
// where it knows them) into one error.
func reportError(what string, rpt report.Report, err error) error {
	var lines []string
	for _, e := range rpt.Entries {
		if e.Kind == report.Error || e.Kind == report.Warn {
			lines = append(lines, e.String())
		}
	}
	if len(lines) == 0 {
		return fmt.Errorf("%s: %v", what, err)
	}
	return fmt.Errorf("%s: %s", what, strings.Join(lines, "; "))
}
