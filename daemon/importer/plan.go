package importer

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/pixie-boot/pixie/daemon/api"
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
			pl.rows = append(pl.rows, skip("profile", sp.ID, sp.From, "another profile has the id "+sp.ID+": give one of them another id and import again"))
			continue
		}
		b, reason := pl.buildProfile(sp)
		if sp.IgnitionID != "" {
			used[pl.lay.configDir+sp.IgnitionID] = true
		}
		if b != nil && b.config != "" {
			used[b.config] = true
		}
		if reason == "" {
			if other := pl.byName(b.p.Name); other != nil {
				reason = "its pixie name " + b.p.Name + " is also profile " + other.src.ID + "'s: give one of them another id, or import with --prefix"
			}
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
			Changes: []string{"read: start pixie with `sudo pixie serve " + strings.Join(plan.Serve.Flags, " ") + "` (see the notes below the table)"}})
	}
	// The summary reads by kind, in the order a person checks them.
	order := map[string]int{"profile": 0, "machine": 1, "default": 2, "group": 3, "asset": 4, "config": 5, "dnsmasq": 6}
	sort.SliceStable(pl.rows, func(i, j int) bool { return order[pl.rows[i].Kind] < order[pl.rows[j].Kind] })
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
