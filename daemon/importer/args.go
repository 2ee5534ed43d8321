package importer

import (
	"net/url"
	"sort"
	"strings"
)

// ignitionURLArgs are the kernel arguments that name the config the booted
// OS (or the Fedora CoreOS installer) fetches.
var ignitionURLArgs = map[string]bool{
	"coreos.config.url": true, "ignition.config.url": true, "flatcar.config.url": true, "coreos.inst.ignition_url": true,
}

// cmdlineWords turns bootcfg's cmdline map into words, sorted by key: Go
// maps (and so bootcfg) had no order; "" is a bare flag.
func cmdlineWords(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		if m[k] == "" {
			out = append(out, k)
		} else {
			out = append(out, k+"="+m[k])
		}
	}
	return out
}

// translateArgs makes a pixie kernel-argument template from the old
// server's arguments. oldAsset maps a URL path on the old server
// (/assets/x) to the pixie asset it was imported as, ok false when the
// tree has no such file.
func translateArgs(words []string, oldAsset func(urlPath string) (string, bool)) (string, []string) {
	var out, changes []string
	for _, w := range words {
		for _, f := range strings.Fields(w) {
			key, val, hasVal := strings.Cut(f, "=")
			switch {
			case key == "initrd" && hasVal:
				changes = append(changes, "kernel argument "+f+" dropped: pixie names the initrds itself (initrd=NAME for each)")
				continue
			case key == "cloud-config-url":
				changes = append(changes, "kernel argument cloud-config-url dropped: pixie serves no cloud-configs (use an Ignition config)")
				continue
			case ignitionURLArgs[key] && hasVal && isOldIgnitionURL(val):
				out = append(out, key+"={{.IgnitionURL}}")
				changes = append(changes, key+": the old server's "+val+" → {{.IgnitionURL}} (pixie's Ignition URL for the machine, with a per-boot token)")
				continue
			case hasVal && (strings.HasPrefix(val, "http://") || strings.HasPrefix(val, "https://")):
				if u, err := url.Parse(val); err == nil && u.RawQuery == "" {
					if dest, ok := oldAsset(u.Path); ok {
						out = append(out, key+"={{.ServerURL}}/assets/"+dest)
						changes = append(changes, key+": the old server's "+val+" → pixie's copy, {{.ServerURL}}/assets/"+dest)
						continue
					}
				}
			}
			// A literal "{{" would start a template action in pixie.
			out = append(out, strings.ReplaceAll(f, "{{", `{{"{{"}}`))
		}
	}
	return strings.Join(out, " "), changes
}

// isOldIgnitionURL spots the matchbox/bootcfg Ignition endpoint.
func isOldIgnitionURL(v string) bool {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return strings.HasSuffix(u.Path, "/ignition")
}
