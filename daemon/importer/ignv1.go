package importer

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// The parts of Ignition's first spec ("ignitionVersion": 1) that have a
// place in spec 3. Fields not listed here are reported as not carried over.
type v1Config struct {
	IgnitionVersion int `json:"ignitionVersion"`
	Storage         struct {
		Files       []v1File `json:"files"`
		Filesystems []struct {
			Device string          `json:"device"`
			Format string          `json:"format"`
			Create json.RawMessage `json:"create"`
			Files  []v1File        `json:"files"`
		} `json:"filesystems"`
		Disks  json.RawMessage `json:"disks"`
		Arrays json.RawMessage `json:"arrays"`
		Raid   json.RawMessage `json:"raid"`
	} `json:"storage"`
	Systemd struct {
		Units []struct {
			Name     string `json:"name"`
			Enable   bool   `json:"enable"`
			Mask     bool   `json:"mask"`
			Contents string `json:"contents"`
			DropIns  []struct {
				Name     string `json:"name"`
				Contents string `json:"contents"`
			} `json:"dropins"`
		} `json:"units"`
	} `json:"systemd"`
	Networkd struct {
		Units []struct {
			Name     string `json:"name"`
			Contents string `json:"contents"`
		} `json:"units"`
	} `json:"networkd"`
	Passwd struct {
		Users []struct {
			Name              string   `json:"name"`
			PasswordHash      string   `json:"passwordHash"`
			SSHAuthorizedKeys []string `json:"sshAuthorizedKeys"`
			Create            *struct {
				UID          *int     `json:"uid"`
				GECOS        string   `json:"gecos"`
				Homedir      string   `json:"homeDir"`
				NoCreateHome bool     `json:"noCreateHome"`
				PrimaryGroup string   `json:"primaryGroup"`
				Groups       []string `json:"groups"`
				NoUserGroup  bool     `json:"noUserGroup"`
				System       bool     `json:"system"`
				NoLogInit    bool     `json:"noLogInit"`
				Shell        string   `json:"shell"`
			} `json:"create"`
		} `json:"users"`
		Groups []struct {
			Name         string `json:"name"`
			GID          *int   `json:"gid"`
			PasswordHash string `json:"passwordHash"`
			System       bool   `json:"system"`
		} `json:"groups"`
	} `json:"passwd"`
}

type v1File struct {
	Path     string `json:"path"`
	Contents string `json:"contents"`
	Mode     *int   `json:"mode"`
	UID      *int   `json:"uid"`
	GID      *int   `json:"gid"`
}

// v3 output types: only what the conversion writes.
type v3Config struct {
	Ignition struct {
		Version string `json:"version"`
	} `json:"ignition"`
	Passwd  *v3Passwd  `json:"passwd,omitempty"`
	Storage *v3Storage `json:"storage,omitempty"`
	Systemd *v3Systemd `json:"systemd,omitempty"`
}

type v3Passwd struct {
	Users  []map[string]any `json:"users,omitempty"`
	Groups []map[string]any `json:"groups,omitempty"`
}

type v3Storage struct {
	Files []map[string]any `json:"files,omitempty"`
}

type v3Systemd struct {
	Units []map[string]any `json:"units,omitempty"`
}

// v1ToV3 converts a first-spec config to Ignition spec 3.0.0 (which every
// 3.x reader takes) for what it uses: users and SSH keys, groups, systemd
// units, networkd units (as files under /etc/systemd/network) and files.
// It returns the config and the names of what it could not carry over.
func v1ToV3(src string) (string, []string, error) {
	var in v1Config
	if err := json.Unmarshal([]byte(src), &in); err != nil {
		return "", nil, fmt.Errorf("the Ignition spec 1 config is not valid JSON: %v", err)
	}
	if in.IgnitionVersion != 1 {
		return "", nil, fmt.Errorf("ignitionVersion %d: only spec 1 is converted", in.IgnitionVersion)
	}
	var lost []string
	var out v3Config
	out.Ignition.Version = "3.0.0"
	pw := &v3Passwd{}
	for _, u := range in.Passwd.Users {
		m := map[string]any{"name": u.Name}
		if len(u.SSHAuthorizedKeys) > 0 {
			m["sshAuthorizedKeys"] = u.SSHAuthorizedKeys
		}
		if u.PasswordHash != "" {
			m["passwordHash"] = u.PasswordHash
		}
		if c := u.Create; c != nil {
			setIf(m, "uid", c.UID != nil, c.UID)
			setIf(m, "gecos", c.GECOS != "", c.GECOS)
			setIf(m, "homeDir", c.Homedir != "", c.Homedir)
			setIf(m, "noCreateHome", c.NoCreateHome, true)
			setIf(m, "primaryGroup", c.PrimaryGroup != "", c.PrimaryGroup)
			setIf(m, "groups", len(c.Groups) > 0, c.Groups)
			setIf(m, "noUserGroup", c.NoUserGroup, true)
			setIf(m, "system", c.System, true)
			setIf(m, "noLogInit", c.NoLogInit, true)
			setIf(m, "shell", c.Shell != "", c.Shell)
		}
		pw.Users = append(pw.Users, m)
	}
	for _, g := range in.Passwd.Groups {
		m := map[string]any{"name": g.Name}
		setIf(m, "gid", g.GID != nil, g.GID)
		setIf(m, "passwordHash", g.PasswordHash != "", g.PasswordHash)
		setIf(m, "system", g.System, true)
		pw.Groups = append(pw.Groups, m)
	}
	if len(pw.Users)+len(pw.Groups) > 0 {
		out.Passwd = pw
	}
	st := &v3Storage{}
	addFile := func(f v1File) {
		m := map[string]any{"path": f.Path, "overwrite": true, "contents": map[string]any{"source": dataURL(f.Contents)}}
		setIf(m, "mode", f.Mode != nil, f.Mode)
		if f.UID != nil {
			m["user"] = map[string]any{"id": *f.UID}
		}
		if f.GID != nil {
			m["group"] = map[string]any{"id": *f.GID}
		}
		st.Files = append(st.Files, m)
	}
	for _, f := range in.Storage.Files {
		addFile(f)
	}
	for _, fsys := range in.Storage.Filesystems {
		if fsys.Format != "" || len(fsys.Create) > 0 {
			lost = append(lost, fmt.Sprintf("storage.filesystems (%s formatted as %s) and its %d file(s): write a Butane storage section for it", fsys.Device, fsys.Format, len(fsys.Files)))
			continue
		}
		for _, f := range fsys.Files {
			addFile(f)
		}
	}
	for _, u := range in.Networkd.Units {
		st.Files = append(st.Files, map[string]any{"path": "/etc/systemd/network/" + u.Name, "mode": 0o644, "overwrite": true,
			"contents": map[string]any{"source": dataURL(u.Contents)}})
	}
	if len(st.Files) > 0 {
		out.Storage = st
	}
	sd := &v3Systemd{}
	for _, u := range in.Systemd.Units {
		m := map[string]any{"name": u.Name}
		setIf(m, "enabled", u.Enable, true)
		setIf(m, "mask", u.Mask, true)
		setIf(m, "contents", u.Contents != "", u.Contents)
		var drops []map[string]any
		for _, d := range u.DropIns {
			drops = append(drops, map[string]any{"name": d.Name, "contents": d.Contents})
		}
		setIf(m, "dropins", len(drops) > 0, drops)
		sd.Units = append(sd.Units, m)
	}
	if len(sd.Units) > 0 {
		out.Systemd = sd
	}
	for name, raw := range map[string]json.RawMessage{"storage.disks": in.Storage.Disks, "storage.arrays": in.Storage.Arrays, "storage.raid": in.Storage.Raid} {
		if len(raw) > 0 && string(raw) != "null" && string(raw) != "[]" {
			lost = append(lost, name+": partitioning and RAID are not converted; write a Butane storage section for them")
		}
	}
	lost = append(lost, unknownV1Keys(src)...)
	sort.Strings(lost)
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return "", nil, err
	}
	return string(b) + "\n", lost, nil
}

func setIf(m map[string]any, k string, ok bool, v any) {
	if ok {
		m[k] = v
	}
}

// dataURL is an RFC 2397 URL of the text, percent-encoded as Ignition
// expects.
func dataURL(s string) string {
	return "data:," + strings.ReplaceAll(url.PathEscape(s), "+", "%2B")
}

// unknownV1Keys names top-level sections the conversion does not know.
func unknownV1Keys(src string) []string {
	var top map[string]json.RawMessage
	if json.Unmarshal([]byte(src), &top) != nil {
		return nil
	}
	var out []string
	for k := range top {
		switch k {
		case "ignitionVersion", "storage", "systemd", "networkd", "passwd":
		default:
			out = append(out, k+": not part of what pixie converts; carry it over by hand")
		}
	}
	return out
}
