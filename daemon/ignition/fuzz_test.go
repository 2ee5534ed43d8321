package ignition

import (
	"encoding/json"
	"strings"
	"testing"
)

// fuzzOS picks the OS kind a config is checked for.
func fuzzOS(i uint8) string {
	kinds := []string{"fedora-coreos", "flatcar", "container-linux", "generic", ""}
	return kinds[int(i)%len(kinds)]
}

// FuzzTranslate feeds arbitrary bytes, as Ignition JSON or Butane YAML, to
// the translate-and-validate step every config goes through. It must never
// panic; it either refuses with a message or returns JSON, which for
// Ignition and Butane sources is a config the Ignition library accepts.
// Template actions are left out ({{ is escaped away): a template's own
// cost is the administrator's to pay, and FuzzRenderHostile covers values.
func FuzzTranslate(f *testing.F) {
	for _, s := range []string{
		`{"ignition":{"version":"3.4.0"}}`,
		`{"ignition":{"version":"3.0.0"},"storage":{"files":[{"path":"/etc/hostname","contents":{"source":"data:,x"}}]}}`,
		`{"ignition":{"version":"3.6.0-experimental"}}`,
		`{"ignition":{"version":"4.0.0"}}`,
		`{"ignition":{"version":"2.2.0"}}`,
		`{"ignitionVersion":1}`,
		`{"ignition":{"version":"3.4.0"},"passwd":{"users":[{"name":"core","sshAuthorizedKeys":["ssh-ed25519 AAAA"]}]}}`,
		`{"ignition":{"version":"3.4.0"},"systemd":{"units":[{"name":"x.service","enabled":true,"contents":"[Unit]\n"}]}}`,
		`{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"a"}]}}`,
		`{"ignition":{"version":"3.4.0"}`,
		`{"ignition":{"version":3}}`,
		`{"ignition":{"version":"3.4.0"},"ignition":{"version":"3.1.0"}}`,
		"variant: fcos\nversion: 1.5.0\n",
		"variant: fcos\nversion: 1.5.0\nstorage:\n  files:\n    - path: /etc/hostname\n      contents:\n        inline: node1\n",
		"variant: flatcar\nversion: 1.1.0\n",
		"variant: fcos\nversion: 1.7.0-experimental\n",
		"variant: fcos\nversion: x\n",
		"variant: fcos\nversion: 1.5.0\nstorage:\n  files:\n  - path: /a\n   mode: 1\n",
		"variant: fcos\nversion: 1.5.0\nsystemd:\n  units:\n    - name: a.service\n      contents: |\n        [Unit]\n",
		"variant: fcos\nversion: 1.6.0\nstorage:\n  trees:\n    - local: x\n",
		"variant: fcos\nversion: 1.5.0\nignition:\n  config:\n    merge:\n      - local: x.ign\n",
		"&a [*a, *a, *a]",
		"a: &a [*a]",
		"variant: !!binary AAAA\nversion: 1.5.0\n",
		"- - - - - - - - - - - - - -",
		"{}", "[]", "null", "", "\x00", "\xef\xbb\xbf{}", "{\"a\":1e999}",
	} {
		for os := range uint8(5) {
			f.Add([]byte(s), os)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte, osKind uint8) {
		os := fuzzOS(osKind)
		text := strings.ReplaceAll(string(src), "{{", "{ {")
		format := Detect(text)
		if format == FormatNone {
			return
		}
		out, err := finish(format, []byte(text), os)
		checkErr := Check(text, os)
		if (err == nil) != (checkErr == nil) {
			t.Fatalf("finish and Check disagree: %v / %v", err, checkErr)
		}
		if err != nil {
			if err.Error() == "" {
				t.Fatal("refused without a message")
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("accepted %s config gives invalid JSON: %q", format, out)
		}
		if format != FormatLegacy {
			if verr := validateIgnition(out); verr != nil {
				t.Fatalf("accepted %s config is not valid Ignition: %v\n%s", format, verr, out)
			}
		}
	})
}

// FuzzMerge renders two arbitrary configs, a profile's and a machine's,
// into one, as /ignition does. Whatever is accepted is valid JSON, and
// valid Ignition unless it is a legacy config served as written.
func FuzzMerge(f *testing.F) {
	base := `{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/etc/hostname","contents":{"source":"data:,a"}}]}}`
	for _, s := range []string{
		`{"ignition":{"version":"3.4.0"},"storage":{"links":[{"path":"/etc","target":"/x"}]}}`,
		`{"ignition":{"version":"3.0.0"},"storage":{"files":[{"path":"/etc/hostname","contents":{"source":"data:,b"}}]}}`,
		`{"ignition":{"version":"3.4.0"},"storage":{"directories":[{"path":"/etc/hostname"}]}}`,
		`{"ignition":{"version":"3.5.0"},"passwd":{"users":[{"name":"core"}]}}`,
		"variant: fcos\nversion: 1.5.0\nstorage:\n  links:\n    - path: /etc/hostname\n      target: /x\n",
		`{"ignition":{"version":"2.2.0"}}`,
		``,
	} {
		f.Add(base, s, uint8(0))
		f.Add(s, base, uint8(3))
	}
	f.Fuzz(func(t *testing.T, profile, machine string, osKind uint8) {
		profile = strings.ReplaceAll(profile, "{{", "{ {")
		machine = strings.ReplaceAll(machine, "{{", "{ {")
		out, err := Render(profile, machine, fuzzOS(osKind), Data{})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("refused without a message")
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("merged config is not JSON: %q", out)
		}
		if Detect(string(out)) != FormatLegacy {
			if err := validateIgnition(out); err != nil {
				t.Fatalf("merged config is not valid Ignition: %v\n%s", err, out)
			}
		}
	})
}

// TestMergeIsValidated: regression for a merge of two valid configs that
// is not valid itself. The machine's link /etc would put the profile's
// file /etc/x behind a link, which Ignition refuses ("file path includes
// link in config"); pixie served it.
func TestMergeIsValidated(t *testing.T) {
	profile := `{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/etc/x","contents":{"source":"data:,a"}}]}}`
	machine := `{"ignition":{"version":"3.4.0"},"storage":{"links":[{"path":"/etc","target":"/x"}]}}`
	for _, src := range []string{profile, machine} {
		if err := Check(src, "fedora-coreos"); err != nil {
			t.Fatalf("each config alone is valid: %v", err)
		}
	}
	out, err := Render(profile, machine, "fedora-coreos", Data{})
	if err == nil || !strings.Contains(err.Error(), "includes link") {
		t.Fatalf("Render = %s, %v; want the merged config refused", out, err)
	}
}

// FuzzRenderHostile renders a profile config and a machine overlay, in
// JSON and in Butane, with one hostile value as hostname, variable and SSH
// key. Values inserted with the json function must come out as the same
// string (what JSON can carry of it: invalid UTF-8 becomes U+FFFD), never
// as structure, in valid Ignition.
func FuzzRenderHostile(f *testing.F) {
	for _, s := range []string{
		"node1", `"quoted"`, `\`, `\"`, "a\nb", "}]}", `"},"x":{"`, "${x}", "{{.Hostname}}",
		"#!ipxe", ":label", "||", "\x00", "\x7f", "\u0085", "\u0080", "\u009f", "\ufeff", "\ufffe",
		"\u2028", "<script>", "&amp;", "\xff", "key: value", "- item", "&anchor", "*alias",
		"!!binary", "%TAG", "---", "...", "'single'", "@", "`", "|\n  x", "> x", "? x", "#comment",
	} {
		f.Add(s)
	}
	const profileJSON = `{"ignition":{"version":"3.4.0"},"passwd":{"users":[{"name":"core","gecos":{{json .Hostname}},"sshAuthorizedKeys":[{{json .Vars.v}}]}]}}`
	const machineButane = "variant: fcos\nversion: 1.5.0\npasswd:\n  users:\n    - name: core\n      ssh_authorized_keys:\n{{- range .SSHKeys}}\n        - {{json .}}\n{{- end}}\n    - name: other\n      gecos: {{json .Vars.v}}\n"
	const profileButane = "variant: fcos\nversion: 1.5.0\npasswd:\n  users:\n    - name: core\n      gecos: {{json .Hostname}}\n"
	f.Fuzz(func(t *testing.T, v string) {
		d := Data{Hostname: v, SSHKeys: []string{v}, Vars: map[string]string{"v": v}}
		want := jsonString(t, v)
		for _, tc := range []struct{ name, profile, machine string }{
			{"json", profileJSON, ""},
			{"butane", profileButane, ""},
			{"json+butane", profileJSON, machineButane},
		} {
			out, err := Render(tc.profile, tc.machine, "fedora-coreos", d)
			if err != nil {
				// Ignition itself may refuse a value where it checks
				// one (an SSH key with a newline); but quoting must
				// never be what breaks.
				if strings.Contains(err.Error(), "YAML") || strings.Contains(err.Error(), "not valid JSON") {
					t.Fatalf("%s: value %q broke the config's syntax: %v", tc.name, v, err)
				}
				continue
			}
			var cfg struct {
				Passwd struct {
					Users []struct {
						Name  string   `json:"name"`
						Gecos *string  `json:"gecos"`
						Keys  []string `json:"sshAuthorizedKeys"`
					} `json:"users"`
				} `json:"passwd"`
			}
			if err := json.Unmarshal(out, &cfg); err != nil {
				t.Fatalf("%s: rendered config is not JSON: %v\n%s", tc.name, err, out)
			}
			for _, u := range cfg.Passwd.Users {
				if u.Gecos != nil && *u.Gecos != want {
					t.Fatalf("%s: gecos of %s = %q, want %q", tc.name, u.Name, *u.Gecos, want)
				}
				for _, k := range u.Keys {
					if k != want {
						t.Fatalf("%s: key of %s = %q, want %q", tc.name, u.Name, k, want)
					}
				}
			}
		}
	})
}

// jsonString is s as it survives a trip through JSON.
func jsonString(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back string
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	return back
}

// TestJSONFuncInButane: regression for what FuzzRenderHostile found. The
// json function left DEL, C1 controls and U+FFFE raw, which a YAML
// double-quoted string cannot hold: the Butane config was refused
// ("control characters are not allowed"), and U+0085 was silently read as a
// line break and turned into a space.
func TestJSONFuncInButane(t *testing.T) {
	const src = "variant: fcos\nversion: 1.5.0\npasswd:\n  users:\n    - name: core\n      gecos: {{json .Hostname}}\n"
	for _, v := range []string{"a\x7fb", "\u0080", "x\u0085y", "\u009f", "\ufffe", "\uffff", "plain", "é\u2028"} {
		out, err := Render(src, "", "fedora-coreos", Data{Hostname: v})
		if err != nil {
			t.Errorf("%q: %v", v, err)
			continue
		}
		var cfg struct {
			Passwd struct {
				Users []struct{ Gecos string } `json:"users"`
			} `json:"passwd"`
		}
		if err := json.Unmarshal(out, &cfg); err != nil || len(cfg.Passwd.Users) != 1 || cfg.Passwd.Users[0].Gecos != v {
			t.Errorf("%q: rendered %s (%v)", v, out, err)
		}
	}
}
