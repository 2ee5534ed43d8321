package importer

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/hwaddr"
	"github.com/pixie-boot/pixie/daemon/store"
)

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
			pl.rows = append(pl.rows, skip(kind, g.ID, g.From, "it names no profile: add \"profile\": ID to it and import again"))
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
