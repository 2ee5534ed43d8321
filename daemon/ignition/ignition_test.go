package ignition

import (
	"encoding/json"
	"strings"
	"testing"
)

const butaneFCOS = `variant: fcos
version: 1.5.0
passwd:
  users:
    - name: core
      ssh_authorized_keys:
{{- range .SSHKeys}}
        - {{json .}}
{{- end}}
storage:
  files:
    - path: /etc/hostname
      mode: 0644
      contents:
        inline: {{json .Hostname}}
    - path: /etc/pixie-role
      contents:
        inline: {{json .Vars.role}}
`

const ignJSON = `{
  "ignition": {"version": "3.4.0"},
  "passwd": {"users": [{"name": "core", "sshAuthorizedKeys": [{{json .Vars.key}}]}]},
  "storage": {"files": [{"path": "/etc/hostname", "mode": 420, "overwrite": true,
    "contents": {"source": "data:,{{.Hostname}}"}}]}
}`

func TestDetect(t *testing.T) {
	for src, want := range map[string]Format{
		"":                                   FormatNone,
		"  \n":                               FormatNone,
		ignJSON:                              FormatIgnition,
		butaneFCOS:                           FormatButane,
		`{"ignitionVersion": 1}`:             FormatLegacy,
		`{"ignition": {"version": "2.2.0"}}`: FormatLegacy,
		`{"ignition": {"version": "2.1.0"}, "x": {{json .Hostname}}}`: FormatLegacy,
	} {
		if got := Detect(src); got != want {
			t.Errorf("Detect(%.40q) = %q, want %q", src, got, want)
		}
	}
}

func TestCheckAccepts(t *testing.T) {
	for _, tc := range []struct{ name, src, os string }{
		{"butane fcos", butaneFCOS, "fedora-coreos"},
		{"butane flatcar", strings.Replace(butaneFCOS, "variant: fcos\nversion: 1.5.0", "variant: flatcar\nversion: 1.1.0", 1), "flatcar"},
		{"butane on generic", butaneFCOS, "generic"},
		{"ignition 3.4", ignJSON, "fedora-coreos"},
		{"ignition 3.0 minimal", `{"ignition":{"version":"3.0.0"}}`, "flatcar"},
		{"legacy v1 (the guide's first-time.json)", guideFirstTime, "container-linux"},
		{"legacy 2.x", `{"ignition":{"version":"2.2.0"},"passwd":{"users":[{"name":"core","sshAuthorizedKeys":[{{json .Vars.key}}]}]}}`, "container-linux"},
		{"empty", "", "fedora-coreos"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Check(tc.src, tc.os); err != nil {
				t.Fatalf("Check: %v", err)
			}
		})
	}
}

func TestCheckRejects(t *testing.T) {
	for _, tc := range []struct{ name, src, os, want string }{
		{"butane unknown key", "variant: fcos\nversion: 1.5.0\npasswd:\n  userz: []\n", "fedora-coreos", "line 4 col 3: unused key userz"},
		{"ignition unknown key", "{\"ignition\":{\"version\":\"3.4.0\"},\n\"pasword\":{}}", "fedora-coreos", "line 2 col 1: unused key pasword"},
		{"butane bad yaml", "variant: fcos\nversion: 1.5.0\nstorage:\n  files:\n  - path: /a\n   mode: 1\n", "fedora-coreos", "YAML"},
		{"butane relative path", "variant: fcos\nversion: 1.5.0\nstorage:\n  files:\n    - path: etc/x\n", "fedora-coreos", "path not absolute"},
		{"butane wrong variant", "variant: flatcar\nversion: 1.1.0\n", "fedora-coreos", `use "variant: fcos"`},
		{"butane unknown version", "variant: fcos\nversion: 9.0.0\n", "fedora-coreos", "not supported"},
		{"butane experimental", "variant: fcos\nversion: 1.7.0-experimental\n", "fedora-coreos", "not supported"},
		{"ignition bad json", "{\n  \"ignition\": {\"version\": \"3.4.0\"},\n  \"storage\": {\n}", "fedora-coreos", "line 4"},
		{"ignition invalid path", `{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"relative"}]}}`, "fedora-coreos", "path not absolute"},
		{"ignition unknown version", `{"ignition":{"version":"3.9.0"}}`, "fedora-coreos", "not supported"},
		{"ignition experimental", `{"ignition":{"version":"3.6.0-experimental"}}`, "fedora-coreos", "experimental"},
		{"legacy for fcos", guideFirstTime, "fedora-coreos", "classic Container Linux"},
		{"legacy not json", `{"ignitionVersion": 1,}`, "container-linux", "not a JSON object"},
		{"template syntax", `{"ignition":{"version":"3.4.0"}{{if}}`, "generic", "template"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.src, tc.os)
			if err == nil {
				t.Fatalf("Check accepted %q", tc.src)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check error %q does not mention %q", err, tc.want)
			}
			t.Logf("%s: %v", tc.name, err)
		})
	}
}

const guideFirstTime = `{
  "ignitionVersion": 1,
  "passwd": {"users": [{"name": "core", "sshAuthorizedKeys": ["ssh-ed25519 AAAA test"]}]},
  "systemd": {"units": [{"name": "set-hostname.service", "enable": true,
    "contents": "[Unit]\n[Service]\nType=oneshot\nExecStart=/usr/bin/hostnamectl set-hostname first-time\n[Install]\nWantedBy=multi-user.target"}]}
}`

type ign struct {
	Ignition struct {
		Version string `json:"version"`
	} `json:"ignition"`
	Passwd struct {
		Users []struct {
			Name              string   `json:"name"`
			SSHAuthorizedKeys []string `json:"sshAuthorizedKeys"`
		} `json:"users"`
	} `json:"passwd"`
	Storage struct {
		Files []struct {
			Path     string `json:"path"`
			Contents struct {
				Source string `json:"source"`
			} `json:"contents"`
		} `json:"files"`
	} `json:"storage"`
}

func decode(t *testing.T, b []byte) ign {
	t.Helper()
	var c ign
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("served config is not JSON: %v\n%s", err, b)
	}
	return c
}

// TestRenderHostile feeds values that would break a naive template (quotes,
// newlines, YAML and JSON syntax) and checks they arrive as data.
func TestRenderHostile(t *testing.T) {
	hostile := "x\"y\n  - evil: true\n}],\"z\":{\\u0000 {{.MAC}} ${x}"
	d := Data{MAC: "52:54:00:00:00:01", Hostname: "node-1", SSHKeys: []string{"ssh-ed25519 AAAA a@b", hostile},
		Vars: map[string]string{"role": hostile, "key": hostile}}
	for _, tc := range []struct{ name, src string }{{"butane", butaneFCOS}, {"ignition", ignJSON}} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Render(tc.src, "", "fedora-coreos", d)
			if err != nil {
				t.Fatal(err)
			}
			if err := validateIgnition(out); err != nil {
				t.Fatalf("rendered config does not validate: %v", err)
			}
			c := decode(t, out)
			keys := c.Passwd.Users[0].SSHAuthorizedKeys
			if keys[len(keys)-1] != hostile {
				t.Errorf("hostile value changed: %q", keys[len(keys)-1])
			}
		})
	}
	// Butane turns the inline role into a data URL holding the exact value.
	out, _ := Render(butaneFCOS, "", "fedora-coreos", d)
	c := decode(t, out)
	if len(c.Storage.Files) != 2 || c.Storage.Files[0].Path != "/etc/hostname" {
		t.Fatalf("files: %+v", c.Storage.Files)
	}
	if c.Ignition.Version != "3.4.0" {
		t.Errorf("fcos 1.5.0 should give Ignition 3.4.0, got %s", c.Ignition.Version)
	}
}

func TestRenderMissingVar(t *testing.T) {
	_, err := Render(butaneFCOS, "", "fedora-coreos", Data{Hostname: "a"})
	if err == nil || !strings.Contains(err.Error(), "role") {
		t.Fatalf("want an error naming the missing variable, got %v", err)
	}
}

// TestRenderBrokenByValue: a value that makes the config invalid (a
// relative path from a variable) is refused when rendered, never served.
func TestRenderBrokenByValue(t *testing.T) {
	src := `{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":{{json .Vars.path}}}]}}`
	if err := Check(src, "fedora-coreos"); err == nil {
		t.Log("sample value example-path is relative: Check refuses it too")
	}
	_, err := Render(src, "", "fedora-coreos", Data{Vars: map[string]string{"path": "relative/file"}})
	if err == nil || !strings.Contains(err.Error(), "path not absolute") {
		t.Fatalf("want the library's message, got %v", err)
	}
}

func TestMergeOverlay(t *testing.T) {
	profile := butaneFCOS
	machine := `{"ignition":{"version":"3.5.0"},
	  "passwd":{"users":[{"name":"core","sshAuthorizedKeys":["ssh-ed25519 BBBB machine"]}]},
	  "storage":{"files":[
	    {"path":"/etc/hostname","mode":420,"overwrite":true,"contents":{"source":"data:,override"}},
	    {"path":"/etc/machine-only","contents":{"source":"data:,yes"}}]}}`
	d := Data{Hostname: "node-1", SSHKeys: []string{"ssh-ed25519 AAAA profile"}, Vars: map[string]string{"role": "web"}}
	out, err := Render(profile, machine, "fedora-coreos", d)
	if err != nil {
		t.Fatal(err)
	}
	c := decode(t, out)
	if c.Ignition.Version != "3.5.0" {
		t.Errorf("merged version %s, want the newer 3.5.0", c.Ignition.Version)
	}
	files := map[string]string{}
	for _, f := range c.Storage.Files {
		files[f.Path] = f.Contents.Source
	}
	if files["/etc/hostname"] != "data:,override" {
		t.Errorf("machine's /etc/hostname should win: %v", files)
	}
	if _, ok := files["/etc/pixie-role"]; !ok {
		t.Errorf("profile's file lost: %v", files)
	}
	if _, ok := files["/etc/machine-only"]; !ok {
		t.Errorf("machine's file lost: %v", files)
	}
	if k := c.Passwd.Users[0].SSHAuthorizedKeys; len(k) != 2 {
		t.Errorf("keys of user core should be merged, got %v", k)
	}
	if err := validateIgnition(out); err != nil {
		t.Errorf("merged config invalid: %v", err)
	}

	if err := CheckOverlay(guideFirstTime, "container-linux"); err == nil {
		t.Error("a legacy machine overlay should be refused")
	}
	if _, err := Render(guideFirstTime, machine, "container-linux", d); err == nil {
		t.Error("merging over a legacy profile config should be refused")
	}
}

func TestRenderLegacyAsIs(t *testing.T) {
	out, err := Render(guideFirstTime, "", "container-linux", Data{})
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != guideFirstTime {
		t.Errorf("legacy config changed:\n%s", out)
	}
}

func TestUnitArg(t *testing.T) {
	for in, want := range map[string]string{
		"http://10.0.0.2:8080/phone-home?mac=aa&token=T": `"http://10.0.0.2:8080/phone-home?mac=aa&token=T"`,
		`http://x/a%20b?q="1"\`:                          `"http://x/a%%20b?q=\"1\"\\"`,
	} {
		if got := UnitArg(in); got != want {
			t.Errorf("UnitArg(%q) = %s, want %s", in, got, want)
		}
	}
}
