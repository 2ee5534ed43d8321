package importer

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/ignition"
	"github.com/pixie-boot/pixie/daemon/store"
)

var nameBad = regexp.MustCompile(`[^a-z0-9._-]+`)

// name is the pixie profile name of a source id.
func (pl *planner) name(id string) string {
	n := nameBad.ReplaceAllString(strings.ToLower(pl.req.Prefix+id), "-")
	n = strings.TrimLeft(n, "._-")
	if len(n) > 63 {
		n = n[:63]
	}
	if n == "" {
		n = "imported"
	}
	return n
}

func storeReason(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, store.ErrInvalid.Error()+": ")
	return s
}

func sameProfile(a, b store.Profile) bool {
	return a.Description == b.Description && a.OS == b.OS && a.Kernel == b.Kernel && slices.Equal(a.Initrds, b.Initrds) &&
		a.Args == b.Args && a.Ignition == b.Ignition && a.PhoneHome == b.PhoneHome && a.IgnitionSpec == b.IgnitionSpec &&
		maps.Equal(nonNil(a.Vars), nonNil(b.Vars))
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// buildProfile makes the pixie profile of one source profile; reason says
// why it cannot be imported.
func (pl *planner) buildProfile(sp srcProfile) (*built, string) {
	b := &built{src: sp}
	name := pl.name(sp.ID)
	if name != pl.req.Prefix+sp.ID {
		b.changes = append(b.changes, fmt.Sprintf("named %s: profile names are lower-case letters, digits, '.', '_' or '-'", name))
	}
	if sp.Kernel == "" {
		return nil, "it names no kernel: add boot.kernel (a path under the old /assets/ or an http(s) URL) and import again"
	}
	kernel, why := pl.assetRef("kernel", sp.Kernel, b)
	if why != "" {
		return nil, why
	}
	var initrds []string
	for _, in := range sp.Initrds {
		f := strings.Fields(in)
		if len(f) == 3 && f[0] == "--name" {
			b.changes = append(b.changes, fmt.Sprintf("initrd %q: the --name is dropped, pixie names initrds itself", in))
			in = f[2]
		} else if len(f) != 1 {
			return nil, fmt.Sprintf("initrd %q: want a path or URL, or --name NAME PATH: fix it and import again", in)
		}
		ref, why := pl.assetRef("initrd", in, b)
		if why != "" {
			return nil, why
		}
		initrds = append(initrds, ref)
	}
	args, argChanges := translateArgs(sp.Args, func(urlPath string) (string, bool) {
		tp, ok := pl.treeAsset(urlPath)
		if !ok {
			return "", false
		}
		dest, why := pl.useAsset(tp, b)
		return dest, why == ""
	})
	b.changes = append(b.changes, argChanges...)
	os := detectOS(sp.Kernel, args)
	b.p = store.Profile{Name: name, OS: os, Kernel: kernel, Initrds: initrds, Args: args, Description: describe(sp, pl.req.Source)}
	if sp.GenericID != "" {
		b.changes = append(b.changes, "generic config "+sp.GenericID+" not carried over: pixie has no /generic endpoint")
	}
	if sp.CloudID != "" {
		b.changes = append(b.changes, "cloud-config "+sp.CloudID+" not carried over: pixie serves Ignition only")
	}
	if sp.IgnitionID != "" {
		cfg, changes, used, why := pl.config(sp, os)
		if why != "" {
			return nil, why
		}
		b.config = used
		b.p.Ignition = cfg
		b.changes = append(b.changes, changes...)
	} else if strings.Contains(args, "{{.IgnitionURL}}") {
		b.changes = append(b.changes, "it names no Ignition config: the machine's Ignition fetch will fail until one is set (`pixie profiles edit "+name+"`)")
	}
	if err := b.p.Validate(); err != nil {
		return nil, storeReason(err)
	}
	return b, ""
}

func describe(sp srcProfile, source string) string {
	d := "imported from " + source + " " + sp.From
	if sp.Title != "" {
		d = sp.Title + " (" + d + ")"
	}
	return d
}

// detectOS tells the OS kind from the kernel's name and the arguments.
func detectOS(kernel, args string) string {
	k := strings.ToLower(kernel)
	switch {
	case strings.Contains(k, "fedora-coreos") || strings.Contains(k, "fcos"):
		return "fedora-coreos"
	case strings.Contains(k, "flatcar"):
		return "flatcar"
	case strings.Contains(k, "coreos_production"):
		return "container-linux"
	case strings.Contains(args, "flatcar.first_boot") || strings.Contains(args, "flatcar.config.url"):
		return "flatcar"
	case strings.Contains(args, "ignition.platform.id") || strings.Contains(args, "coreos.live.rootfs_url") || strings.Contains(args, "coreos.inst.install_dev"):
		return "fedora-coreos"
	case strings.Contains(args, "coreos.config.url") || strings.Contains(args, "coreos.first_boot"):
		return "container-linux"
	}
	return "generic"
}

// treeAsset maps a URL path of the old server to the tree's file.
func (pl *planner) treeAsset(urlPath string) (string, bool) {
	for _, u := range pl.urls {
		if rest, ok := strings.CutPrefix(urlPath, u[0]); ok {
			tp := u[1] + rest
			if _, ok := pl.t.assets[tp]; ok {
				return tp, true
			}
		}
	}
	return "", false
}

// assetRef turns a kernel or initrd reference into a pixie one.
func (pl *planner) assetRef(what, ref string, b *built) (string, string) {
	if strings.HasPrefix(ref, "http://") || strings.HasPrefix(ref, "https://") {
		// The old server's own URL of a file the tree holds: pixie's copy.
		if u, err := url.Parse(ref); err == nil {
			if tp, ok := pl.treeAsset(u.Path); ok {
				dest, why := pl.useAsset(tp, b)
				if why == "" {
					b.changes = append(b.changes, what+" "+ref+": the old server's URL → pixie's copy "+dest)
				}
				return dest, why
			}
		}
		return ref, ""
	}
	for _, u := range pl.urls {
		if rest, ok := strings.CutPrefix(ref, u[0]); ok {
			tp := u[1] + rest
			if _, ok := pl.t.assets[tp]; !ok {
				return "", fmt.Sprintf("%s %s: the tree has no file %s: put the file there (or point the profile at an http(s) URL) and import again", what, ref, tp)
			}
			return pl.useAsset(tp, b)
		}
	}
	return "", fmt.Sprintf("%s %s: want a path under %s or an http(s) URL: fix it and import again", what, ref, pl.urls[0][0])
}

// useAsset records that b uses the tree's asset tp and returns its path
// in pixie's asset store.
func (pl *planner) useAsset(tp string, b *built) (string, string) {
	rest := tp[strings.Index(tp, "/")+1:]
	dest := "imported/" + pl.req.Source + "/" + rest
	a := pl.assets[tp]
	if a == nil {
		f := pl.t.assets[tp]
		a = &api.ImportAssetPlan{From: tp, To: dest, Size: f.Size, SHA256: f.SHA256, Action: pl.copyAction()}
		if sha, ok := pl.ex.Asset(dest); ok {
			switch {
			case f.SHA256 != "" && sha == f.SHA256:
				a.Action = api.AssetPresent
			case !pl.req.Replace && f.SHA256 != "":
				// Not an error yet: a profile pixie has keeps its copy.
				b.conflict = "pixie's asset store already holds " + dest + " with other content: --replace overwrites it"
				return dest, ""
			}
		}
		pl.assets[tp] = a
	}
	b.assets = append(b.assets, tp)
	return dest, ""
}

// config reads, translates and checks the profile's Ignition config.
func (pl *planner) config(sp srcProfile, os string) (cfg string, changes []string, used string, why string) {
	cfg, changes, why = pl.readConfig(&sp, os)
	return cfg, changes, pl.lay.configDir + sp.IgnitionID, why
}

func (pl *planner) readConfig(sp *srcProfile, os string) (string, []string, string) {
	p := pl.lay.configDir + sp.IgnitionID
	src, ok := pl.t.files[p]
	var changes []string
	if !ok {
		// The guide's spec names pxe-ignition-default.json while its
		// config is written as first-time.json: the config named after
		// the spec is the one meant.
		alt := pl.lay.configDir + sp.ID + ".json"
		if altSrc, ok2 := pl.t.files[alt]; ok2 && !pl.lay.matchbox {
			src, ok = altSrc, true
			changes = append(changes, fmt.Sprintf("Ignition config: %s is not in the tree; used %s, the config named after the spec", p, alt))
			sp.IgnitionID = sp.ID + ".json"
			p = alt
		}
	}
	if !ok {
		return "", nil, "its Ignition config " + p + " is not in the tree: put it there, or fix ignition_id, and import again"
	}
	raw := pl.lay.matchbox && (strings.HasSuffix(p, ".ign") || strings.HasSuffix(p, ".ignition"))
	if ignition.Detect(src) == ignition.FormatLegacy {
		switch os {
		case "container-linux", "generic":
			changes = append(changes, "Ignition config "+p+": an old spec, served as it is (what classic Container Linux reads)")
			return escapeBraces(src), changes, ""
		}
		if !strings.Contains(src, `"ignitionVersion"`) {
			return "", nil, fmt.Sprintf("Ignition config %s is spec 2.x, which %s does not read: convert it to Butane (variant fcos or flatcar)", p, os)
		}
		out, lost, err := v1ToV3(src)
		if err != nil {
			return "", nil, "Ignition config " + p + ": " + err.Error()
		}
		changes = append(changes, "Ignition config "+p+": converted from spec 1 to 3.0.0 for "+os+" (users and SSH keys, groups, systemd units, networkd units, files)")
		for _, l := range lost {
			changes = append(changes, "not carried over: "+l)
		}
		return escapeBraces(out), changes, ""
	}
	if raw {
		// matchbox serves .ign files as they are, never as templates.
		return escapeBraces(src), changes, ""
	}
	if ignition.Detect(src) == ignition.FormatButane && !butaneVariant.MatchString(src) {
		return "", nil, "config " + p + " is a Container Linux Config (no variant:): pixie reads Butane (variant: fcos or flatcar); convert it, e.g. add variant: flatcar and version: 1.0.0"
	}
	out, tchanges, err := translateTemplate(p, src, pl.lists)
	if err != nil {
		return "", nil, "config " + p + ": " + err.Error()
	}
	for _, c := range tchanges {
		changes = append(changes, "config "+p+": "+c)
	}
	return out, changes, ""
}

var butaneVariant = regexp.MustCompile(`(?m)^variant:`)

// escapeBraces keeps a config that is not a template from being read as
// one.
func escapeBraces(s string) string {
	if !strings.Contains(s, "{{") {
		return s
	}
	return strings.ReplaceAll(s, "{{", `{{"{{"}}`)
}
