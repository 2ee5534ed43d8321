package importer

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/url"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/hwaddr"
	"github.com/pixie-boot/pixie/daemon/ignition"
	"github.com/pixie-boot/pixie/daemon/store"
)

type rowT = api.ImportRow

func skip(kind, name, from, reason string) rowT {
	return rowT{Kind: kind, Name: name, From: from, Status: api.ImportSkipped, Reason: reason}
}

// ErrRequest is a request that cannot be planned at all (an unknown
// source, a bad prefix, a --default that names nothing).
var ErrRequest = errors.New("import request")

// Existing is what pixie holds now, as far as the plan needs to know.
type Existing struct {
	Profiles       map[string]store.Profile
	Machines       map[string]store.Machine // by normalized MAC
	DefaultProfile string
	// Asset returns the SHA-256 of the asset store's file at path; ok is
	// false when there is none.
	Asset func(path string) (sha string, ok bool)
}

// ProfileChange is a profile the plan writes (Status imported or
// replaced) or leaves (unchanged, kept).
type ProfileChange struct {
	Profile store.Profile
	Status  string
	From    string
}

// MachineChange is a machine the plan writes or leaves.
type MachineChange struct {
	Machine store.Machine
	Status  string
	From    string
}

// Plan is what an import does.
type Plan struct {
	Source, Root string
	Profiles     []ProfileChange
	Machines     []MachineChange
	Default      *api.ImportDefault
	Assets       []api.ImportAssetPlan
	Serve        *api.ImportServe
	Rows         []api.ImportRow
}

// Writes says whether applying the plan changes anything.
func (p Plan) Writes() bool {
	for _, c := range p.Profiles {
		if writes(c.Status) {
			return true
		}
	}
	for _, c := range p.Machines {
		if writes(c.Status) {
			return true
		}
	}
	for _, a := range p.Assets {
		if a.Action != api.AssetPresent {
			return true
		}
	}
	return p.Default != nil && writes(p.Default.Status)
}

func writes(status string) bool { return status == api.ImportImported || status == api.ImportReplaced }

var prefixRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,40}$`)

// planner holds one Make call's state.
type planner struct {
	req      api.ImportRequest
	ex       Existing
	t        tree
	lay      layout
	assetMap map[string][2]string // URL prefix on the old server → tree dir
	urls     [][2]string
	profiles map[string]*built // by source id
	skipped  map[string]string // source id → why its profile was skipped
	assets   map[string]*api.ImportAssetPlan
	rows     []rowT
	lists    map[string]bool // metadata keys whose values are lists
}

type built struct {
	src     srcProfile
	p       store.Profile
	changes []string
	status  string
	assets  []string // tree paths
	config  string   // the config file used, by tree path
	// conflict says which asset the store holds with other content.
	conflict string
}

// Make plans an import. The error is ErrRequest for a request that cannot
// be planned; everything else the tree holds is in the plan's rows.
func Make(req api.ImportRequest, ex Existing) (Plan, error) {
	if req.Prefix != "" && !prefixRE.MatchString(req.Prefix) {
		return Plan{}, fmt.Errorf("%w: --prefix %q: use lower-case letters, digits, '.', '_' or '-', starting with a letter or digit", ErrRequest, req.Prefix)
	}
	pl := &planner{req: req, ex: ex, profiles: map[string]*built{}, skipped: map[string]string{}, assets: map[string]*api.ImportAssetPlan{}}
	if pl.ex.Asset == nil {
		pl.ex.Asset = func(string) (string, bool) { return "", false }
	}
	pl.t = tree{files: map[string]string{}, assets: map[string]assetFile{}}
	for _, f := range req.Files {
		if !fs.ValidPath(f.Path) {
			return Plan{}, fmt.Errorf("%w: file path %q: want a slash-separated path inside the tree", ErrRequest, f.Path)
		}
	}
	for _, a := range req.Assets {
		if !fs.ValidPath(a.Path) || a.Size < 0 {
			return Plan{}, fmt.Errorf("%w: asset path %q: want a slash-separated path inside the tree", ErrRequest, a.Path)
		}
	}
	for _, f := range req.Files {
		pl.t.files[f.Path] = f.Content
	}
	for _, a := range req.Assets {
		pl.t.assets[a.Path] = assetFile{Size: a.Size, SHA256: a.SHA256}
	}
	var profiles []srcProfile
	var groups []srcGroup
	switch req.Source {
	case api.ImportMatchbox:
		pl.lay = layout{source: req.Source, configDir: "ignition/", genericDir: "generic/", matchbox: true}
		pl.urls = [][2]string{{"/assets/", "assets/"}}
		profiles, groups, pl.rows = readMatchbox(pl.t)
	case api.ImportBootcfg:
		var data string
		profiles, groups, pl.rows, data = readBootcfg(pl.t)
		pl.lay = layout{source: req.Source, configDir: data + "ignition/"}
		// bootcfg served -images-path at /images, later -assets-path at /assets.
		pl.urls = [][2]string{{"/images/", "images/"}, {"/assets/", "assets/"}}
	default:
		return Plan{}, fmt.Errorf("%w: source %q: pixie imports from matchbox or bootcfg", ErrRequest, req.Source)
	}
	if len(profiles) == 0 && len(groups) == 0 && len(pl.rows) == 0 {
		where := "profiles/*.json or groups/*.json"
		if req.Source == api.ImportBootcfg {
			where = "data/specs/*/spec.json or data/*/machine.json"
		}
		return Plan{}, fmt.Errorf("%w: %s holds no %s: give the %s data directory", ErrRequest, orDot(req.Root), where, req.Source)
	}
	pl.lists = map[string]bool{}
	for _, g := range groups {
		for k, v := range g.Metadata {
			if _, ok := v.([]any); ok {
				pl.lists[k] = true
			}
		}
	}
	used := map[string]bool{}
	for _, sp := range profiles {
		if _, dup := pl.profiles[sp.ID]; dup || pl.skipped[sp.ID] != "" {
			pl.rows = append(pl.rows, skip("profile", sp.ID, sp.From, "another profile has the id "+sp.ID))
			continue
		}
		b, reason := pl.buildProfile(sp)
		if sp.IgnitionID != "" {
			used[pl.lay.configDir+sp.IgnitionID] = true
		}
		if b != nil && b.config != "" {
			used[b.config] = true
		}
		if reason != "" {
			pl.skipped[sp.ID] = reason
			pl.rows = append(pl.rows, skip("profile", pl.name(sp.ID), sp.From, reason))
			continue
		}
		pl.profiles[sp.ID] = b
	}
	plan := Plan{Source: req.Source, Root: req.Root}
	machines, def, err := pl.groups(groups, profiles)
	if err != nil {
		return Plan{}, err
	}
	// Profiles: status once the default group's variables are in.
	needed := map[string]bool{}
	for _, id := range sortedKeys(pl.profiles) {
		b := pl.profiles[id]
		if err := b.p.Validate(); err != nil {
			pl.rows = append(pl.rows, skip("profile", b.p.Name, b.src.From, storeReason(err)))
			delete(pl.profiles, id)
			continue
		}
		b.status = api.ImportImported
		old, exists := pl.ex.Profiles[b.p.Name]
		if b.conflict != "" && !exists {
			pl.rows = append(pl.rows, skip("profile", b.p.Name, b.src.From, b.conflict))
			delete(pl.profiles, id)
			continue
		}
		if exists {
			switch {
			case b.conflict != "":
				b.status = api.ImportKept
			case sameProfile(old, b.p):
				b.status = api.ImportUnchanged
			case store.IsSeedProfile(old):
				// pixie's own placeholder, never edited: the tree's
				// profile of that name is what the user means.
				b.status = api.ImportReplaced
				b.changes = append(b.changes, "replaces pixie's placeholder "+old.Name+" profile (never edited)")
			case req.Replace:
				b.status = api.ImportReplaced
			default:
				b.status = api.ImportKept
			}
		}
		row := rowT{Kind: "profile", Name: b.p.Name, From: b.src.From, Status: b.status, Changes: b.changes}
		switch {
		case b.conflict != "":
			row.Reason = b.conflict
		case b.status == api.ImportKept:
			row.Reason = "pixie has a profile " + b.p.Name + " that differs: --replace updates it, --prefix imports under other names"
		}
		pl.rows = append(pl.rows, row)
		plan.Profiles = append(plan.Profiles, ProfileChange{Profile: b.p, Status: b.status, From: b.src.From})
		if b.status != api.ImportKept {
			// A profile kept as pixie has it does not use the tree's files.
			for _, a := range b.assets {
				needed[a] = true
			}
		}
	}
	for _, m := range machines {
		row := rowT{Kind: "machine", Name: m.m.MAC, From: m.from, Changes: m.changes}
		if b := pl.byName(m.m.Profile); b == nil {
			row.Status, row.Reason = api.ImportSkipped, "its profile "+m.m.Profile+" was skipped"
			pl.rows = append(pl.rows, row)
			continue
		} else if b.status == api.ImportKept {
			row.Changes = append(row.Changes, "boots pixie's existing profile "+b.p.Name+", which differs from the tree's (--replace updates it)")
		}
		row.Status = api.ImportImported
		if old, ok := pl.ex.Machines[m.m.MAC]; ok {
			merged := old
			merged.Profile, merged.Hostname, merged.Vars = m.m.Profile, m.m.Hostname, m.m.Vars
			switch {
			case old.Profile == m.m.Profile && old.Hostname == m.m.Hostname && maps.Equal(nonNil(old.Vars), nonNil(m.m.Vars)):
				row.Status = api.ImportUnchanged
			case req.Replace:
				row.Status = api.ImportReplaced
			default:
				row.Status = api.ImportKept
				row.Reason = "pixie has machine " + m.m.MAC + " with another profile, hostname or variables: --replace updates it"
			}
			m.m = merged
		}
		pl.rows = append(pl.rows, row)
		plan.Machines = append(plan.Machines, MachineChange{Machine: m.m, Status: row.Status, From: m.from})
	}
	if def != nil {
		plan.Default = pl.defaultRow(def)
	}
	for _, p := range sortedKeys(pl.assets) {
		a := pl.assets[p]
		if !needed[p] {
			continue
		}
		st := api.ImportImported
		if a.Action == api.AssetPresent {
			st = api.ImportUnchanged
		}
		pl.rows = append(pl.rows, rowT{Kind: "asset", Name: a.To, From: a.From, Status: st, Changes: assetChange(a)})
		plan.Assets = append(plan.Assets, *a)
	}
	for _, p := range sortedKeys(pl.t.files) {
		if strings.HasPrefix(p, pl.lay.configDir) && !used[p] {
			pl.rows = append(pl.rows, skip("config", strings.TrimPrefix(p, pl.lay.configDir), p, "no profile names it"))
		}
	}
	if req.Dnsmasq != nil {
		plan.Serve = Dnsmasq(req.Dnsmasq.Content)
		pl.rows = append(pl.rows, rowT{Kind: "dnsmasq", Name: path.Base(req.Dnsmasq.Path), From: req.Dnsmasq.Path, Status: api.ImportImported,
			Changes: []string{"start pixie with: pixie serve " + strings.Join(plan.Serve.Flags, " ")}})
	}
	plan.Rows = pl.rows
	return plan, nil
}

func orDot(s string) string {
	if s == "" {
		return "the directory"
	}
	return s
}

func assetChange(a *api.ImportAssetPlan) []string {
	switch a.Action {
	case api.AssetLink:
		return []string{"hard-linked into the asset store (--link)"}
	case api.AssetCopy:
		return []string{"copied into the asset store"}
	}
	return nil
}

func (pl *planner) copyAction() string {
	if pl.req.Link {
		return api.AssetLink
	}
	return api.AssetCopy
}

func (pl *planner) byName(name string) *built {
	for _, b := range pl.profiles {
		if b.p.Name == name {
			return b
		}
	}
	return nil
}

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
		return nil, "it names no kernel (boot.kernel)"
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
			return nil, fmt.Sprintf("initrd %q: want a path or URL, or --name NAME PATH", in)
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
				return "", fmt.Sprintf("%s %s: the tree has no file %s", what, ref, tp)
			}
			return pl.useAsset(tp, b)
		}
	}
	return "", fmt.Sprintf("%s %s: want a path under %s or an http(s) URL", what, ref, pl.urls[0][0])
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
		return "", nil, "its Ignition config " + p + " is not in the tree"
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

type machineT struct {
	m       store.Machine
	from    string
	changes []string
}

// groups turns groups into machines and the default.
func (pl *planner) groups(groups []srcGroup, profiles []srcProfile) ([]machineT, *defaultT, error) {
	sort.SliceStable(groups, func(i, j int) bool { return groups[i].ID < groups[j].ID })
	inTree := map[string]bool{}
	for _, p := range profiles {
		inTree[p.ID] = true
	}
	var out []machineT
	var defaults []srcGroup
	seen := map[string]string{}
	for _, g := range groups {
		kind := "group"
		if pl.req.Source == api.ImportBootcfg {
			kind = "machine"
		}
		if g.Profile == "" {
			pl.rows = append(pl.rows, skip(kind, g.ID, g.From, "it names no profile"))
			continue
		}
		if _, ok := pl.profiles[g.Profile]; !ok {
			reason := "its profile " + g.Profile + " is not in the tree (matchbox would answer 404 for it)"
			if pl.req.Source == api.ImportBootcfg {
				reason = "its spec " + g.Profile + " is not in the tree (specs/" + g.Profile + "/spec.json)"
			}
			if inTree[g.Profile] {
				reason = "its profile " + g.Profile + " was skipped: " + pl.skipped[g.Profile]
			}
			pl.rows = append(pl.rows, skip(kind, g.ID, g.From, reason))
			continue
		}
		if len(g.Selector) == 0 {
			defaults = append(defaults, g)
			continue
		}
		mac, hasMAC := g.Selector["mac"]
		if !hasMAC || len(g.Selector) > 1 {
			pl.rows = append(pl.rows, skip(kind, g.ID, g.From, selectorReason(g.Selector)))
			continue
		}
		norm, err := hwaddr.Parse(mac)
		if err != nil {
			pl.rows = append(pl.rows, skip(kind, g.ID, g.From, "selector mac "+mac+" is not a MAC address"))
			continue
		}
		if other, dup := seen[norm]; dup {
			pl.rows = append(pl.rows, skip(kind, g.ID, g.From, "group "+other+" selects the same MAC "+norm+" (matchbox's choice between the two is not deterministic)"))
			continue
		}
		seen[norm] = g.ID
		vars, changes := metaVars(g.Metadata)
		m := store.Machine{MAC: norm, Profile: pl.profiles[g.Profile].p.Name, Vars: vars}
		for _, k := range []string{"hostname", "domain_name"} {
			if h := vars[k]; h != "" && m.Hostname == "" {
				m.Hostname = h
				changes = append(changes, "hostname "+h+" from metadata "+k)
			}
		}
		if err := m.Validate(); err != nil {
			pl.rows = append(pl.rows, skip(kind, g.ID, g.From, storeReason(err)))
			continue
		}
		changes = append([]string{"from " + kind + " " + g.ID}, changes...)
		out = append(out, machineT{m: m, from: g.From, changes: changes})
	}
	def, err := pl.pickDefault(defaults, profiles)
	return out, def, err
}

type defaultT struct {
	id, from string
	b        *built
	changes  []string
}

func (pl *planner) pickDefault(defaults []srcGroup, profiles []srcProfile) (*defaultT, error) {
	var pick *srcGroup
	if pl.req.Default != "" {
		for i := range defaults {
			if defaults[i].ID == pl.req.Default {
				pick = &defaults[i]
			}
		}
		if pick == nil {
			if b := pl.profiles[pl.req.Default]; b != nil {
				pick = &srcGroup{ID: pl.req.Default, From: b.src.From, Profile: pl.req.Default}
			}
		}
		if pick == nil {
			var ids []string
			for _, d := range defaults {
				ids = append(ids, d.ID)
			}
			return nil, fmt.Errorf("%w: --default %s: the tree has no group without a selector, nor an imported profile, of that id (groups without a selector: %s)", ErrRequest, pl.req.Default, strings.Join(orNone(ids), ", "))
		}
	} else {
		switch len(defaults) {
		case 0:
			if pl.req.Source == api.ImportBootcfg {
				// The guide's setup: its "first-time" spec is what a machine
				// bootcfg knows nothing of boots.
				for _, id := range []string{"first-time", "default"} {
					if b := pl.profiles[id]; b != nil {
						return &defaultT{id: id, from: b.src.From, b: b, changes: []string{"the spec " + id + " becomes the profile of machines pixie does not know, as in the guide"}}, nil
					}
				}
			}
			return nil, nil
		case 1:
			pick = &defaults[0]
		default:
			var ids []string
			for _, d := range defaults {
				ids = append(ids, d.ID)
			}
			for _, d := range defaults {
				pl.rows = append(pl.rows, skip("default", d.ID, d.From, "several groups have no selector ("+strings.Join(ids, ", ")+"): matchbox's choice among them is not deterministic; choose one with --default ID"))
			}
			return nil, nil
		}
	}
	for _, d := range defaults {
		if d.ID != pick.ID {
			pl.rows = append(pl.rows, skip("default", d.ID, d.From, "--default chose "+pick.ID))
		}
	}
	b := pl.profiles[pick.Profile]
	d := &defaultT{id: pick.ID, from: pick.From, b: b, changes: []string{"from group " + pick.ID}}
	if len(pick.Metadata) > 0 {
		vars, changes := metaVars(pick.Metadata)
		if b.p.Vars == nil {
			b.p.Vars = map[string]string{}
		}
		for k, v := range vars {
			b.p.Vars[k] = v
		}
		b.changes = append(b.changes, "the metadata of default group "+pick.ID+" became the profile's variables")
		b.changes = append(b.changes, changes...)
	}
	return d, nil
}

func orNone(s []string) []string {
	if len(s) == 0 {
		return []string{"none"}
	}
	return s
}

func (pl *planner) defaultRow(d *defaultT) *api.ImportDefault {
	b := pl.profiles[d.id]
	if b == nil {
		b = d.b
	}
	out := &api.ImportDefault{Profile: d.b.p.Name, Was: pl.ex.DefaultProfile, From: d.from}
	row := rowT{Kind: "default", Name: d.b.p.Name, From: d.from, Changes: d.changes}
	switch {
	case pl.byName(d.b.p.Name) == nil:
		out.Status, row.Reason = api.ImportSkipped, "its profile "+d.b.p.Name+" was skipped"
	case pl.ex.DefaultProfile == d.b.p.Name:
		out.Status = api.ImportUnchanged
	case pl.ex.DefaultProfile == "" || pl.ex.DefaultProfile == store.DefaultProfileName:
		out.Status = api.ImportImported
		row.Changes = append(row.Changes, "machines pixie does not know boot it (was "+orDash(pl.ex.DefaultProfile)+")")
	case pl.req.Replace:
		out.Status = api.ImportReplaced
		row.Changes = append(row.Changes, "machines pixie does not know boot it (was "+pl.ex.DefaultProfile+")")
	default:
		out.Status = api.ImportKept
		row.Reason = "machines pixie does not know boot " + pl.ex.DefaultProfile + ": --replace makes it " + d.b.p.Name
	}
	row.Status = out.Status
	pl.rows = append(pl.rows, row)
	return out
}

func orDash(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// selectorReason says why a group's selector cannot become a pixie machine.
func selectorReason(sel map[string]string) string {
	var kv []string
	for _, k := range sortedKeys(sel) {
		kv = append(kv, k+"="+sel[k])
	}
	s := strings.Join(kv, ",")
	if _, ok := sel["mac"]; ok {
		return "selector " + s + ": matchbox gives this group only to requests that also carry the other labels; pixie chooses a machine's profile by its MAC alone (set it with `pixie machines set MAC --profile NAME` if that is what the machine should boot)"
	}
	return "selector " + s + ": pixie chooses a machine's profile by MAC only; once the machine has booted, `pixie boots` shows its MAC: then `pixie machines set MAC --profile NAME`"
}
