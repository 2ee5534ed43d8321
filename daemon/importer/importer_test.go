package importer

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/ignition"
	"github.com/pixie-boot/pixie/daemon/importer/importtest"
	"github.com/pixie-boot/pixie/daemon/store"
)

// status lists the rows as "kind name status".
func statuses(p Plan) map[string]string {
	out := map[string]string{}
	for _, r := range p.Rows {
		out[r.Kind+" "+r.Name] = r.Status
	}
	return out
}

func row(t *testing.T, p Plan, kind, name string) api.ImportRow {
	t.Helper()
	for _, r := range p.Rows {
		if r.Kind == kind && r.Name == name {
			return r
		}
	}
	t.Fatalf("no %s %s row in %+v", kind, name, p.Rows)
	return api.ImportRow{}
}

func profile(t *testing.T, p Plan, name string) store.Profile {
	t.Helper()
	for _, c := range p.Profiles {
		if c.Profile.Name == name {
			return c.Profile
		}
	}
	t.Fatalf("plan has no profile %s", name)
	return store.Profile{}
}

func TestMatchboxPlan(t *testing.T) {
	p, err := Make(importtest.Matchbox().Request(api.ImportMatchbox), Existing{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"profile fedora-coreos":          api.ImportImported,
		"profile flatcar":                api.ImportImported,
		"profile remote":                 api.ImportImported,
		"profile bad-template":           api.ImportSkipped,
		"group broken":                   api.ImportSkipped,
		"group badtpl":                   api.ImportSkipped,
		"group by-uuid":                  api.ImportSkipped,
		"group node1-installed":          api.ImportSkipped,
		"group orphan":                   api.ImportSkipped,
		"machine " + importtest.Node1MAC: api.ImportImported,
		"machine " + importtest.Node2MAC: api.ImportImported,
		"default fedora-coreos":          api.ImportImported,
		"config unused.yaml":             api.ImportSkipped,
		"asset imported/matchbox/fedora-coreos/36.20220906.3.2/fedora-coreos-36.20220906.3.2-live-kernel-x86_64":        api.ImportImported,
		"asset imported/matchbox/fedora-coreos/36.20220906.3.2/fedora-coreos-36.20220906.3.2-live-initramfs.x86_64.img": api.ImportImported,
		"asset imported/matchbox/fedora-coreos/36.20220906.3.2/fedora-coreos-36.20220906.3.2-live-rootfs.x86_64.img":    api.ImportImported,
		"asset imported/matchbox/flatcar/3227.2.0/flatcar_production_pxe.vmlinuz":                                       api.ImportImported,
		"asset imported/matchbox/flatcar/3227.2.0/flatcar_production_pxe_image.cpio.gz":                                 api.ImportImported,
	}
	if diff := cmp.Diff(want, statuses(p)); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	reasons := map[string]string{
		"group broken":          "not valid JSON: line 1",
		"group by-uuid":         "selector uuid=16e7d8a7-bfa9-428b-9117-363341bb330b: pixie chooses a machine's profile by MAC only",
		"group node1-installed": "selector mac=52:54:00:89:d8:10,os=installed",
		"group orphan":          "its profile missing-profile is not in the tree",
		"profile bad-template":  "config ignition/broken.yaml: template does not parse: ignition/broken.yaml:8: unclosed action",
		"group badtpl":          "its profile bad-template was skipped: config ignition/broken.yaml: template does not parse",
	}
	for k, want := range reasons {
		kind, name, _ := strings.Cut(k, " ")
		if got := row(t, p, kind, name).Reason; !strings.Contains(got, want) {
			t.Errorf("%s: reason %q, want it to contain %q", k, got, want)
		}
	}

	fc := profile(t, p, "fedora-coreos")
	base := "imported/matchbox/fedora-coreos/36.20220906.3.2/fedora-coreos-36.20220906.3.2-live-"
	wantFC := store.Profile{
		Name: "fedora-coreos", OS: "fedora-coreos", Description: "Fedora CoreOS live (imported from matchbox profiles/fedora-coreos.json)",
		Kernel: base + "kernel-x86_64", Initrds: []string{base + "initramfs.x86_64.img"},
		Args:      "coreos.live.rootfs_url={{.ServerURL}}/assets/" + base + "rootfs.x86_64.img ignition.firstboot ignition.platform.id=metal ignition.config.url={{.IgnitionURL}} console=ttyS0",
		PhoneHome: store.PhoneHomeDefault,
		// The default group's metadata: what a machine without a record gets.
		Vars: map[string]string{"node_name": "unknown", "rack": "none", "ssh_keys": importtest.DefKey},
	}
	if diff := cmp.Diff(wantFC, fc, cmpIgnoreIgnition); diff != "" {
		t.Errorf("fedora-coreos profile (-want +got):\n%s", diff)
	}
	for _, want := range []string{"{{range $key := .SSHKeys}}", "inline: {{.Vars.node_name}}", `mac={{.MAC}} query-mac={{.MAC}} rack={{.Vars.rack}} q={{printf "mac=%s" .MAC}}`, "echo hello {{.Vars.node_name}}"} {
		if !strings.Contains(fc.Ignition, want) {
			t.Errorf("translated config lacks %q:\n%s", want, fc.Ignition)
		}
	}
	fcRow := row(t, p, "profile", "fedora-coreos")
	for _, want := range []string{"kernel argument initrd=main dropped", "--name is dropped", "ignition.config.url: the old server's", "→ {{.IgnitionURL}}", "coreos.live.rootfs_url: the old server's", ".request.raw_query → mac={{.MAC}}", ".ssh_authorized_keys → .SSHKeys"} {
		if !strings.Contains(strings.Join(fcRow.Changes, "\n"), want) {
			t.Errorf("fedora-coreos changes lack %q: %q", want, fcRow.Changes)
		}
	}

	if got := profile(t, p, "remote"); got.Kernel != "https://builds.example.com/fcos/kernel" || !strings.Contains(strings.Join(row(t, p, "profile", "remote").Changes, " "), "generic config setup.cfg not carried over") {
		t.Errorf("remote profile: kernel %q, changes %q: want the URL kept and the generic config named", got.Kernel, row(t, p, "profile", "remote").Changes)
	}

	if len(p.Machines) != 2 {
		t.Fatalf("machines: %+v", p.Machines)
	}
	n1 := p.Machines[0].Machine
	wantN1 := store.Machine{MAC: importtest.Node1MAC, Profile: "fedora-coreos", Hostname: "node1.example.com", Loader: "auto",
		Vars: map[string]string{"node_name": "node1", "rack": "r1", "hostname": "node1.example.com", "ssh_keys": importtest.Node1Key, "etcd_peers": `["node1","node2"]`, "replicas": "3"}}
	if diff := cmp.Diff(wantN1, n1); diff != "" {
		t.Errorf("node1 (-want +got):\n%s", diff)
	}
	if n2 := p.Machines[1].Machine; n2.MAC != importtest.Node2MAC || n2.Profile != "flatcar" {
		t.Errorf("node2: %+v (its selector's MAC is spelled with hyphens)", n2)
	}
	if p.Default == nil || p.Default.Profile != "fedora-coreos" {
		t.Errorf("default: %+v", p.Default)
	}
	if len(p.Assets) != 5 {
		t.Errorf("assets: want the 5 files profiles use (not unused-file.bin), got %+v", p.Assets)
	}
	for _, a := range p.Assets {
		if a.Action != api.AssetCopy || a.SHA256 == "" {
			t.Errorf("asset %+v: want copy with the client's hash", a)
		}
	}
}

var cmpIgnoreIgnition = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Ignition" }, cmp.Ignore())

func TestGuidePlan(t *testing.T) {
	req := importtest.Guide().Request(api.ImportBootcfg)
	req.Dnsmasq = &api.ImportFile{Path: "dnsmasq.data/dnsmasq.conf", Content: importtest.GuideDnsmasq}
	p, err := Make(req, Existing{})
	if err != nil {
		t.Fatal(err)
	}
	ft := profile(t, p, "first-time")
	if ft.OS != "container-linux" || ft.Kernel != "imported/bootcfg/coreos/current/coreos_production_pxe.vmlinuz" ||
		ft.Args != "coreos.autologin coreos.config.url={{.IgnitionURL}} coreos.first_boot=1" {
		t.Errorf("first-time: %+v", ft)
	}
	if ft.Ignition != importtest.GuideFirstTime {
		t.Errorf("first-time config: want the guide's spec 1 config as it is, got\n%s", ft.Ignition)
	}
	changes := strings.Join(row(t, p, "profile", "first-time").Changes, "\n")
	if !strings.Contains(changes, "data/ignition/pxe-ignition-default.json is not in the tree; used data/ignition/first-time.json") {
		t.Errorf("first-time changes should say which config stood in for the missing one: %s", changes)
	}
	if len(p.Machines) != 1 || p.Machines[0].Machine.MAC != importtest.GuideMAC || p.Machines[0].Machine.Profile != "first-time" {
		t.Errorf("machines: %+v", p.Machines)
	}
	if p.Default == nil || p.Default.Profile != "first-time" {
		t.Errorf("default: %+v", p.Default)
	}
	if s := statuses(p); s["config first-time.json"] != "" {
		t.Errorf("the config used in place of the missing one is reported unused: %v", s)
	}
	if p.Serve == nil || strings.Join(p.Serve.Flags, " ") != "--address 10.2.0.200" {
		t.Fatalf("serve: %+v", p.Serve)
	}
	notes := strings.Join(p.Serve.Notes, "\n")
	for _, want := range []string{"line 26: dhcp-range=10.2.0.0,proxy: proxy DHCP", "line 32: enable-tftp: pixie serves TFTP itself", "line 46: dhcp-boot: pixie chooses the boot file itself", "line 2: port=0"} {
		if !strings.Contains(notes, want) {
			t.Errorf("dnsmasq notes lack %q:\n%s", want, notes)
		}
	}

	// The spec where the guide's mkdir puts it, and prefixed names.
	tr := importtest.Guide()
	tr["data/specs/first-time/spec.json"] = tr["data/spec/first-time/spec.json"]
	delete(tr, "data/spec/first-time/spec.json")
	req = tr.Request(api.ImportBootcfg)
	req.Prefix = "guide-"
	p, err = Make(req, Existing{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Default == nil || p.Default.Profile != "guide-first-time" || p.Machines[0].Machine.Profile != "guide-first-time" {
		t.Errorf("prefixed: default %+v, machines %+v", p.Default, p.Machines)
	}
}

// existingFrom is what pixie holds after applying p.
func existingFrom(p Plan, assets map[string]string) Existing {
	ex := Existing{Profiles: map[string]store.Profile{}, Machines: map[string]store.Machine{}}
	for _, c := range p.Profiles {
		ex.Profiles[c.Profile.Name] = c.Profile
	}
	for _, c := range p.Machines {
		ex.Machines[c.Machine.MAC] = c.Machine
	}
	if p.Default != nil {
		ex.DefaultProfile = p.Default.Profile
	}
	for _, a := range p.Assets {
		assets[a.To] = a.SHA256
	}
	ex.Asset = func(path string) (string, bool) { s, ok := assets[path]; return s, ok }
	return ex
}

func TestRerunAndReplace(t *testing.T) {
	tr := importtest.Matchbox()
	first, err := Make(tr.Request(api.ImportMatchbox), Existing{})
	if err != nil {
		t.Fatal(err)
	}
	assets := map[string]string{}
	ex := existingFrom(first, assets)
	again, err := Make(tr.Request(api.ImportMatchbox), ex)
	if err != nil {
		t.Fatal(err)
	}
	if again.Writes() {
		t.Errorf("a second run of the same tree would write: %+v", again.Rows)
	}
	for _, r := range again.Rows {
		if r.Status != api.ImportUnchanged && r.Status != api.ImportSkipped {
			t.Errorf("re-run row %s %s: %s, want unchanged", r.Kind, r.Name, r.Status)
		}
	}

	// The tree changes: node1's metadata.
	tr["groups/node1.json"] = strings.Replace(tr["groups/node1.json"], `"rack": "r1"`, `"rack": "r9"`, 1)
	kept, err := Make(tr.Request(api.ImportMatchbox), ex)
	if err != nil {
		t.Fatal(err)
	}
	if s := row(t, kept, "machine", importtest.Node1MAC); s.Status != api.ImportKept || !strings.Contains(s.Reason, "--replace updates it") {
		t.Errorf("changed machine without --replace: %+v", s)
	}
	req := tr.Request(api.ImportMatchbox)
	req.Replace = true
	repl, err := Make(req, ex)
	if err != nil {
		t.Fatal(err)
	}
	if s := statuses(repl); s["machine "+importtest.Node1MAC] != api.ImportReplaced || s["profile fedora-coreos"] != api.ImportUnchanged {
		t.Errorf("--replace: %v", s)
	}

	// A kernel changes: the asset store's copy differs.
	tr[importtest.FCOSKernel] = "a newer kernel\n"
	kept, err = Make(tr.Request(api.ImportMatchbox), ex)
	if err != nil {
		t.Fatal(err)
	}
	if s := row(t, kept, "profile", "fedora-coreos"); s.Status != api.ImportKept || !strings.Contains(s.Reason, "already holds imported/matchbox/fedora-coreos") || !strings.Contains(s.Reason, "--replace overwrites it") {
		t.Errorf("profile whose kernel changed without --replace: %+v", s)
	}
	if kept.Writes() {
		t.Errorf("a changed kernel without --replace would write: %+v", kept.Assets)
	}
	// A new profile whose asset path holds other content is skipped.
	delete(ex.Profiles, "fedora-coreos")
	skipped, _ := Make(tr.Request(api.ImportMatchbox), ex)
	if s := row(t, skipped, "profile", "fedora-coreos"); s.Status != api.ImportSkipped {
		t.Errorf("new profile on a taken asset path: %+v", s)
	}
	req = tr.Request(api.ImportMatchbox)
	req.Replace = true
	repl, err = Make(req, ex)
	if err != nil {
		t.Fatal(err)
	}
	var copies []string
	for _, a := range repl.Assets {
		if a.Action == api.AssetCopy {
			copies = append(copies, a.From)
		}
	}
	if diff := cmp.Diff([]string{importtest.FCOSKernel}, copies); diff != "" {
		t.Errorf("--replace copies (-want +got):\n%s", diff)
	}
}

func TestEditedFirstTimeKept(t *testing.T) {
	ex := Existing{Profiles: map[string]store.Profile{}, DefaultProfile: store.DefaultProfileName}
	seed := store.Profile{Name: store.DefaultProfileName, Kernel: "first-time/vmlinuz", Ignition: "x"}
	ex.Profiles[seed.Name] = seed
	p, err := Make(importtest.Guide().Request(api.ImportBootcfg), ex)
	if err != nil {
		t.Fatal(err)
	}
	// Not the seed (its config differs): kept, and the reason says how.
	if r := row(t, p, "profile", "first-time"); r.Status != api.ImportKept || !strings.Contains(r.Reason, "--replace") {
		t.Errorf("edited first-time: %+v", r)
	}
}

func TestDefaultChoice(t *testing.T) {
	tr := importtest.Matchbox()
	tr["groups/default2.json"] = `{"id": "default2", "profile": "remote"}`
	p, err := Make(tr.Request(api.ImportMatchbox), Existing{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Default != nil || !strings.Contains(row(t, p, "default", "default2").Reason, "choose one with --default ID") {
		t.Errorf("two default groups: default %+v rows %+v", p.Default, p.Rows)
	}
	req := tr.Request(api.ImportMatchbox)
	req.Default = "default2"
	p, err = Make(req, Existing{})
	if err != nil || p.Default == nil || p.Default.Profile != "remote" {
		t.Fatalf("--default default2: %+v %v", p.Default, err)
	}
	req.Default = "nope"
	if _, err := Make(req, Existing{}); !errors.Is(err, ErrRequest) || !strings.Contains(err.Error(), "default, default2") {
		t.Errorf("--default nope: %v", err)
	}
	// A default elsewhere: kept unless --replace.
	req.Default = ""
	delete(tr, "groups/default2.json")
	p, err = Make(tr.Request(api.ImportMatchbox), Existing{DefaultProfile: "mine"})
	if err != nil || p.Default.Status != api.ImportKept || !strings.Contains(row(t, p, "default", "fedora-coreos").Reason, "--replace makes it fedora-coreos") {
		t.Errorf("default kept: %+v %v", p.Default, err)
	}
}

func TestRequestErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  api.ImportRequest
		want string
	}{
		{"source", api.ImportRequest{Source: "cobbler", Files: []api.ImportFile{{Path: "x", Content: "y"}}}, "pixie imports from matchbox or bootcfg"},
		{"prefix", api.ImportRequest{Source: api.ImportMatchbox, Prefix: "Bad Prefix"}, "--prefix"},
		{"empty", api.ImportRequest{Source: api.ImportMatchbox, Root: "/tmp/x", Files: []api.ImportFile{{Path: "README", Content: "hi"}}}, "/tmp/x holds no profiles/*.json or groups/*.json"},
	} {
		if _, err := Make(tc.req, Existing{}); !errors.Is(err, ErrRequest) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestTranslateTemplate(t *testing.T) {
	for _, tc := range []struct {
		src, want, err string
	}{
		{src: "host={{.mac}}", want: "host={{.MAC}}"},
		{src: "{{.request.query.mac}} {{.request.query.foo}}", want: "{{.MAC}} {{.Vars.foo}}"},
		{src: "{{.request.raw_query}}", want: `{{printf "mac=%s" .MAC}}`},
		{src: "{{.metadata.etcd_name}} {{.etcd_name}}", want: "{{.Vars.etcd_name}} {{.Vars.etcd_name}}"},
		{src: "{{if .pxe}}{{.hostname}}{{end}}", want: "{{if .Vars.pxe}}{{.Hostname}}{{end}}"},
		{src: "{{range .ssh_authorized_keys}}- {{.}}{{end}}", want: "{{range .SSHKeys}}- {{.}}{{end}}"},
		{src: "{{with .x}}{{.inner}}{{end}} {{$.mac}}", want: "{{with .Vars.x}}{{.inner}}{{end}} {{$.MAC}}"},
		{src: "{{json .Hostname}} {{.Vars.a}}", want: "{{json .Hostname}} {{.Vars.a}}"},
		{src: "{{.etcd-name}}", err: "does not parse"},
		{src: "{{.uuid}}", err: "uses .uuid"},
		{src: "{{.peers}}", err: "a list in the groups' metadata"},
		{src: "{{.a.b}}", err: "nested metadata"},
		{src: "{{.request.headers}}", err: "pixie has no such value"},
		{src: "no actions at all", want: "no actions at all"},
	} {
		got, _, err := translateTemplate("t", tc.src, map[string]bool{"ssh_authorized_keys": true, "peers": true})
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want %q", tc.src, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.src, err)
		case tc.err == "" && got != tc.want:
			t.Errorf("%q → %q, want %q", tc.src, got, tc.want)
		}
	}
}

func TestTranslateArgs(t *testing.T) {
	assets := func(p string) (string, bool) {
		if p == "/assets/fcos/rootfs.img" {
			return "imported/matchbox/fcos/rootfs.img", true
		}
		return "", false
	}
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{"coreos.config.url=http://10.2.0.200:8080/ignition?uuid=default", "coreos.first_boot=1"}, "coreos.config.url={{.IgnitionURL}} coreos.first_boot=1"},
		{[]string{"coreos.inst.ignition_url=http://mb:8080/ignition?mac=${mac:hexhyp}"}, "coreos.inst.ignition_url={{.IgnitionURL}}"},
		{[]string{"initrd=main", "console=tty0 console=ttyS0"}, "console=tty0 console=ttyS0"},
		{[]string{"cloud-config-url=http://mb/cloud?uuid=${uuid}", "coreos.autologin"}, "coreos.autologin"},
		{[]string{"coreos.live.rootfs_url=http://mb:8080/assets/fcos/rootfs.img"}, "coreos.live.rootfs_url={{.ServerURL}}/assets/imported/matchbox/fcos/rootfs.img"},
		{[]string{"coreos.live.rootfs_url=https://mirror.example.com/rootfs.img"}, "coreos.live.rootfs_url=https://mirror.example.com/rootfs.img"},
		{[]string{"ignition.config.url=https://elsewhere.example.com/config.ign"}, "ignition.config.url=https://elsewhere.example.com/config.ign"},
		{[]string{"x={{y}}"}, `x={{"{{"}}y}}`},
	} {
		got, _ := translateArgs(tc.in, assets)
		if got != tc.want {
			t.Errorf("%q → %q, want %q", tc.in, got, tc.want)
		}
	}
	words := cmdlineWords(map[string]string{"b": "2", "a": "", "c.d": "x=y"})
	if diff := cmp.Diff([]string{"a", "b=2", "c.d=x=y"}, words); diff != "" {
		t.Errorf("cmdline (-want +got):\n%s", diff)
	}
}

func TestV1ToV3(t *testing.T) {
	out, lost, err := v1ToV3(importtest.FlatcarV1)
	if err != nil {
		t.Fatal(err)
	}
	// What pixie serves must pass the coreos libraries' validation.
	if err := ignition.Check(out, "flatcar"); err != nil {
		t.Fatalf("converted config is refused: %v\n%s", err, out)
	}
	var cfg struct {
		Passwd struct {
			Users []struct {
				Name string   `json:"name"`
				Keys []string `json:"sshAuthorizedKeys"`
			} `json:"users"`
		} `json:"passwd"`
		Storage struct {
			Files []struct {
				Path     string `json:"path"`
				Mode     int    `json:"mode"`
				Contents struct {
					Source string `json:"source"`
				} `json:"contents"`
			} `json:"files"`
		} `json:"storage"`
		Systemd struct {
			Units []struct {
				Name    string `json:"name"`
				Enabled bool   `json:"enabled"`
			} `json:"units"`
		} `json:"systemd"`
	}
	if err := json.Unmarshal([]byte(out), &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Passwd.Users) != 1 || cfg.Passwd.Users[0].Name != "core" || len(cfg.Passwd.Users[0].Keys) != 1 {
		t.Errorf("users: %+v", cfg.Passwd.Users)
	}
	if len(cfg.Storage.Files) != 2 || cfg.Storage.Files[0].Path != "/etc/motd" || cfg.Storage.Files[0].Contents.Source != "data:,imported%20from%20matchbox%0A" || cfg.Storage.Files[0].Mode != 420 ||
		cfg.Storage.Files[1].Path != "/etc/systemd/network/10-static.network" {
		t.Errorf("files: %+v", cfg.Storage.Files)
	}
	if len(cfg.Systemd.Units) != 1 || !cfg.Systemd.Units[0].Enabled {
		t.Errorf("units: %+v", cfg.Systemd.Units)
	}
	if len(lost) != 1 || !strings.Contains(lost[0], "storage.disks") {
		t.Errorf("not carried over: %q, want storage.disks named", lost)
	}
	// The guide's config converted for Fedora CoreOS keeps its user, key
	// and unit.
	out, lost, err = v1ToV3(importtest.GuideFirstTime)
	if err != nil || len(lost) != 0 {
		t.Fatalf("guide config: %v %q", err, lost)
	}
	if err := ignition.Check(out, "fedora-coreos"); err != nil {
		t.Fatalf("converted guide config is refused: %v", err)
	}
	for _, want := range []string{`"sshAuthorizedKeys": [`, `"name": "set-hostname.service"`, `"enabled": true`, "hostnamectl set-hostname first-time"} {
		if !strings.Contains(out, want) {
			t.Errorf("converted guide config lacks %s:\n%s", want, out)
		}
	}
	if _, _, err := v1ToV3(`{"ignitionVersion": 1,`); err == nil {
		t.Error("broken JSON converted")
	}
}

func TestGuideOnFedoraCoreOS(t *testing.T) {
	// The guide's config with a Fedora CoreOS kernel: converted, not served
	// as spec 1 (which Fedora CoreOS's Ignition refuses).
	tr := importtest.Guide()
	tr["data/spec/first-time/spec.json"] = strings.ReplaceAll(tr["data/spec/first-time/spec.json"], "coreos_production_pxe.vmlinuz", "fedora-coreos-live-kernel-x86_64")
	tr["images/coreos/current/fedora-coreos-live-kernel-x86_64"] = "k"
	p, err := Make(tr.Request(api.ImportBootcfg), Existing{})
	if err != nil {
		t.Fatal(err)
	}
	ft := profile(t, p, "first-time")
	if ft.OS != "fedora-coreos" || !strings.Contains(ft.Ignition, `"version": "3.0.0"`) {
		t.Errorf("first-time on Fedora CoreOS: os %s config\n%s", ft.OS, ft.Ignition)
	}
	if !strings.Contains(strings.Join(row(t, p, "profile", "first-time").Changes, " "), "converted from spec 1 to 3.0.0 for fedora-coreos") {
		t.Errorf("changes: %q", row(t, p, "profile", "first-time").Changes)
	}
}

func TestSkipReasons(t *testing.T) {
	prof := func(boot, ign string) string {
		return `{"id": "p", "boot": ` + boot + `, "ignition_id": "` + ign + `"}`
	}
	okBoot := `{"kernel": "/assets/k", "args": ["ignition.platform.id=metal"]}`
	for _, tc := range []struct {
		name string
		tree importtest.Tree
		want string
	}{
		{"missing kernel file", importtest.Tree{"profiles/p.json": prof(`{"kernel": "/assets/nope"}`, "")}, "kernel /assets/nope: the tree has no file assets/nope: put the file there"},
		{"no kernel", importtest.Tree{"profiles/p.json": prof(`{}`, "")}, "it names no kernel"},
		{"relative kernel", importtest.Tree{"profiles/p.json": prof(`{"kernel": "k"}`, "")}, "want a path under /assets/ or an http(s) URL"},
		{"missing config", importtest.Tree{"profiles/p.json": prof(okBoot, "x.yaml"), "assets/k": "k"}, "its Ignition config ignition/x.yaml is not in the tree"},
		{"container linux config", importtest.Tree{"profiles/p.json": prof(okBoot, "x.yaml"), "assets/k": "k", "ignition/x.yaml": "passwd:\n  users: []\n"}, "is a Container Linux Config (no variant:)"},
		{"spec 2 for fcos", importtest.Tree{"profiles/p.json": prof(okBoot, "x.ign"), "assets/k": "k", "ignition/x.ign": `{"ignition": {"version": "2.2.0"}}`}, "is spec 2.x, which fedora-coreos does not read"},
		{"invalid ignition", importtest.Tree{"profiles/p.json": prof(okBoot, "x.ign"), "assets/k": "k", "ignition/x.ign": `{"ignition": {"version": "3.3.0"}, "storage": {"files": [{"path": "relative"}]}}`}, "profile p:"},
		{"butane that does not translate", importtest.Tree{"profiles/p.json": prof(okBoot, "x.yaml"), "assets/k": "k", "ignition/x.yaml": "variant: fcos\nversion: 9.9.9\n"}, "profile p:"},
		{"iPXE script words in args", importtest.Tree{"profiles/p.json": prof(`{"kernel": "/assets/k", "args": ["a", "||", "b"]}`, ""), "assets/k": "k"}, "iPXE would run as a command separator"},
		{"profile not JSON", importtest.Tree{"profiles/p.json": `{"id": "p",`}, "not valid JSON"},
		{"profile field of the wrong type", importtest.Tree{"profiles/p.json": `{"id": "p", "boot": {"kernel": 7}}`}, "line 1: boot.kernel should be string, not number"},
	} {
		p, err := Make(tc.tree.Request(api.ImportMatchbox), Existing{})
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		r := row(t, p, "profile", "p")
		if r.Status != api.ImportSkipped || !strings.Contains(r.Reason, tc.want) {
			t.Errorf("%s: %s %q, want skipped with %q", tc.name, r.Status, r.Reason, tc.want)
		}
		if len(p.Profiles) != 0 || p.Writes() {
			t.Errorf("%s: a skipped profile is in the plan: %+v", tc.name, p.Profiles)
		}
	}
}

func TestBootcfgMachines(t *testing.T) {
	tr := importtest.Guide()
	tr["data/machines/default/machine.json"] = `{"id": "default", "spec_id": "other"}`
	tr["data/specs/other/spec.json"] = `{"id": "other", "boot": {"kernel": "http://example.com/vmlinuz", "cmdline": {"console": "ttyS0"}}}`
	tr["data/machines/2d9354a2-e8db-4021-bff5-20ffdf443d6f/machine.json"] = `{"id": "2d9354a2-e8db-4021-bff5-20ffdf443d6f", "spec_id": "other"}`
	tr["data/machines/52:54:00:aa:bb:cc/machine.json"] = `{"id": "52:54:00:aa:bb:cc", "spec": {"boot": {"kernel": "/images/coreos/current/coreos_production_pxe.vmlinuz"}}, "metadata": {"role": "etcd"}}`
	tr["data/machines/52:54:00:aa:bb:cd/machine.json"] = `{"id": "52:54:00:aa:bb:cd", "spec_id": "gone"}`
	p, err := Make(tr.Request(api.ImportBootcfg), Existing{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Default == nil || p.Default.Profile != "other" {
		t.Errorf("bootcfg's default machine: default %+v", p.Default)
	}
	if r := row(t, p, "machine", "2d9354a2-e8db-4021-bff5-20ffdf443d6f"); r.Status != api.ImportSkipped || !strings.Contains(r.Reason, "selector uuid=") {
		t.Errorf("machine by UUID: %+v", r)
	}
	if r := row(t, p, "machine", "52:54:00:aa:bb:cd"); r.Status != api.ImportSkipped || !strings.Contains(r.Reason, "its spec gone is not in the tree (specs/gone/spec.json)") {
		t.Errorf("machine of a missing spec: %+v", r)
	}
	var embedded store.Machine
	for _, m := range p.Machines {
		if m.Machine.MAC == "52:54:00:aa:bb:cc" {
			embedded = m.Machine
		}
	}
	if embedded.Profile != "machine-52-54-00-aa-bb-cc" || embedded.Vars["role"] != "etcd" {
		t.Errorf("machine with its own spec: %+v", embedded)
	}
	// Two ids with one pixie name.
	tr = importtest.Matchbox()
	tr["profiles/Remote.json"] = strings.Replace(tr["profiles/remote.json"], `"id": "remote"`, `"id": "Remote"`, 1)
	p, err = Make(tr.Request(api.ImportMatchbox), Existing{})
	if err != nil {
		t.Fatal(err)
	}
	imported, skipped := 0, 0
	for _, r := range p.Rows {
		switch {
		case r.Kind != "profile" || r.Name != "remote":
		case r.Status == api.ImportImported:
			imported++
		case strings.Contains(r.Reason, "its pixie name remote is also profile"):
			skipped++
		}
	}
	if imported != 1 || skipped != 1 {
		t.Errorf("the second profile named remote is not skipped with the reason: %+v", p.Rows)
	}
}

func TestDnsmasq(t *testing.T) {
	for _, tc := range []struct {
		name, conf string
		flags      []string
		notes      []string
	}{
		{"guide", importtest.GuideDnsmasq, []string{"--address", "10.2.0.200"},
			[]string{"line 6: user: not needed", "line 39: dhcp-userclass: pixie tells iPXE from PXE firmware itself", "line 47: pxe-service: pixie chooses the boot file itself"}},
		{"interface and full DHCP", "interface=eth1\nlisten-address=127.0.0.1\ndhcp-range=192.168.1.50,192.168.1.150,12h\n", []string{"--interface", "eth1", "--dhcp"},
			[]string{"line 3: dhcp-range=192.168.1.50,192.168.1.150,12h hands out addresses: that is pixie's full DHCP mode"}},
		{"custom boot file and DNS", "port=53\ndhcp-boot=pxelinux.0\ndhcp-option=3,192.168.1.1\nserver=8.8.8.8\n", []string{},
			[]string{"line 1: port=53: pixie serves no DNS", "pxelinux.0 is not carried over", "line 3: dhcp-option=3,192.168.1.1: not carried over", "line 4: server=8.8.8.8: not carried over"}},
	} {
		got := Dnsmasq(tc.conf)
		if diff := cmp.Diff(tc.flags, got.Flags); diff != "" {
			t.Errorf("%s: flags (-want +got):\n%s", tc.name, diff)
		}
		notes := strings.Join(got.Notes, "\n")
		for _, n := range tc.notes {
			if !strings.Contains(notes, n) {
				t.Errorf("%s: notes lack %q:\n%s", tc.name, n, notes)
			}
		}
	}
}
