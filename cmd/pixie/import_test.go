package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/httpboot"
	"github.com/pixie-boot/pixie/daemon/importer/importtest"
	"github.com/pixie-boot/pixie/daemon/store"
)

type noEvents struct{}

func (noEvents) Record(context.Context, events.Event) {}

// bootServer is pixie's real boot HTTP handler on the test daemon's store
// and asset store.
func bootServer(t *testing.T, d *testDaemon) string {
	t.Helper()
	assets := filepath.Join(d.DataDir, "assets")
	os.MkdirAll(assets, 0o755)
	root, err := os.OpenRoot(assets)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	var base string
	srv := httpboot.New(httpboot.Config{ServerURL: func() string { return base }}, httpboot.Deps{
		Log: slog.New(slog.DiscardHandler), Store: d.Store, Assets: root, Events: noEvents{}, Counters: events.NewCounters(),
	})
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.Config.ConnContext = httpboot.ConnContext
	ts.Start()
	t.Cleanup(ts.Close)
	base = ts.URL
	return base
}

func httpGet(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s\n%s", u, resp.Status, b)
	}
	return string(b)
}

// ignitionFiles returns a served config's files (path → decoded text),
// users' keys and units.
func ignitionFiles(t *testing.T, cfg string) (map[string]string, map[string][]string, []string) {
	t.Helper()
	var c struct {
		Passwd struct {
			Users []struct {
				Name string   `json:"name"`
				Keys []string `json:"sshAuthorizedKeys"`
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
		Systemd struct {
			Units []struct {
				Name     string `json:"name"`
				Contents string `json:"contents"`
			} `json:"units"`
		} `json:"systemd"`
	}
	if err := json.Unmarshal([]byte(cfg), &c); err != nil {
		t.Fatalf("served config is not JSON: %v\n%s", err, cfg)
	}
	files := map[string]string{}
	for _, f := range c.Storage.Files {
		files[f.Path] = dataURLText(t, f.Contents.Source)
	}
	users := map[string][]string{}
	for _, u := range c.Passwd.Users {
		users[u.Name] = u.Keys
	}
	var units []string
	for _, u := range c.Systemd.Units {
		units = append(units, u.Name+": "+u.Contents)
	}
	return files, users, units
}

// dataURLText decodes the data: URLs Ignition configs carry (Butane
// gzips and base64-encodes larger contents).
func dataURLText(t *testing.T, src string) string {
	t.Helper()
	if s, ok := strings.CutPrefix(src, "data:,"); ok {
		v, err := url.PathUnescape(s)
		if err != nil {
			t.Fatalf("data URL %q: %v", src, err)
		}
		return v
	}
	s, ok := strings.CutPrefix(src, "data:;base64,")
	if !ok {
		t.Fatalf("unexpected contents source %q", src)
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestImportMatchbox(t *testing.T) {
	d := startDaemon(t)
	dir := t.TempDir()
	importtest.Matchbox().Write(t, dir)

	out := mustPixie(t, d, "import", "matchbox", dir, "--dry-run")
	wantContains(t, "dry run", out,
		"KIND", "STATUS", "DETAIL",
		"profile  fedora-coreos", "imported", "kernel argument initrd=main dropped",
		"group    broken", "not valid JSON: line 1",
		"group    orphan", "its profile missing-profile is not in the tree",
		"group    by-uuid", "pixie chooses a machine's profile by MAC only",
		"group    node1-installed", "os=installed",
		"profile  bad-template", "template does not parse",
		"default  fedora-coreos",
		"Dry run: nothing was changed")
	if ps, _ := d.Store.Profiles(t.Context()); len(ps) != 1 {
		t.Fatalf("the dry run changed the store: %d profiles", len(ps))
	}
	if _, err := os.Stat(filepath.Join(d.DataDir, "assets", "imported")); err == nil {
		t.Fatal("the dry run copied assets")
	}

	out = mustPixie(t, d, "import", "matchbox", dir)
	wantContains(t, "import", out, "Imported. See `pixie profiles list`", "copied into the asset store")
	for _, name := range []string{"fedora-coreos", "flatcar", "remote"} {
		if _, err := d.Store.Profile(t.Context(), name); err != nil {
			t.Errorf("profile %s: %v", name, err)
		}
	}
	if def, _ := d.Store.Setting(t.Context(), store.SettingDefaultProfile); def != "fedora-coreos" {
		t.Errorf("default profile %q, want fedora-coreos (the group with no selector)", def)
	}
	got, err := os.ReadFile(filepath.Join(d.DataDir, "assets", "imported/matchbox/fedora-coreos/36.20220906.3.2/fedora-coreos-36.20220906.3.2-live-kernel-x86_64"))
	if err != nil || string(got) != "stand-in FCOS kernel\n" {
		t.Errorf("copied kernel: %q %v", got, err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(d.DataDir, "assets", ".import-*")); len(leftovers) > 0 {
		t.Errorf("staging left behind: %v", leftovers)
	}

	// The event stream says what happened.
	es, err := d.Store.EventsSince(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var server []string
	for _, e := range es {
		if e.Stage == events.StageServer {
			server = append(server, e.Detail)
		}
	}
	wantContains(t, "server events", strings.Join(server, "\n"), "import from matchbox "+dir+": receiving 5 asset(s)",
		"import from matchbox "+dir+" applied: 3 profile(s), 2 machine(s), 5 asset(s) written, default profile fedora-coreos")

	// Idempotent.
	out = mustPixie(t, d, "import", "matchbox", dir)
	wantContains(t, "re-run", out, "Nothing to change", "0 imported, 0 replaced")

	// What node1 gets, by matchbox's rules: its MAC-only group (the
	// group with os=installed needs a label a first boot does not send),
	// so the fedora-coreos profile with node1's metadata.
	base := bootServer(t, d)
	script := httpGet(t, base+"/ipxe?mac=52-54-00-89-d8-10")
	assets := base + "/assets/imported/matchbox/fedora-coreos/36.20220906.3.2/fedora-coreos-36.20220906.3.2-live-"
	wantContains(t, "node1 iPXE script", script,
		"kernel --name kernel "+assets+"kernel-x86_64?mac=52-54-00-89-d8-10&stage=kernel",
		"initrd=fedora-coreos-36.20220906.3.2-live-initramfs.x86_64.img",
		"coreos.live.rootfs_url="+assets+"rootfs.x86_64.img?mac=52-54-00-89-d8-10&stage=rootfs",
		"ignition.firstboot ignition.platform.id=metal ignition.config.url="+base+"/ignition?mac=52-54-00-89-d8-10",
		"console=ttyS0",
		"initrd --name fedora-coreos-36.20220906.3.2-live-initramfs.x86_64.img "+assets+"initramfs.x86_64.img")
	if strings.Contains(script, "initrd=main") || strings.Contains(script, "matchbox.example.com") {
		t.Errorf("the old server's names are left in the script:\n%s", script)
	}
	files, users, units := ignitionFiles(t, httpGet(t, base+"/ignition?mac=52-54-00-89-d8-10"))
	if files["/etc/hostname"] != "node1" || files["/etc/matchbox-import"] != "mac=52:54:00:89:d8:10 query-mac=52:54:00:89:d8:10 rack=r1 q=mac=52:54:00:89:d8:10" {
		t.Errorf("node1 files: %q", files)
	}
	if k := users["core"]; len(k) != 1 || k[0] != importtest.Node1Key {
		t.Errorf("node1 core keys: %q", k)
	}
	if len(units) != 1 || !strings.Contains(units[0], "echo hello node1") {
		t.Errorf("node1 units: %q", units)
	}
	// A machine matchbox does not know gets the default group's metadata.
	files, users, _ = ignitionFiles(t, httpGet(t, base+"/ignition?mac=52-54-00-00-00-01"))
	if files["/etc/hostname"] != "unknown" || len(users["core"]) != 1 || users["core"][0] != importtest.DefKey {
		t.Errorf("unknown machine: files %q users %q", files, users)
	}
	// node2: Flatcar, its spec 1 config converted.
	wantContains(t, "node2 script", httpGet(t, base+"/ipxe?mac=52-54-00-b2-2f-86"), "flatcar.first_boot=yes flatcar.config.url="+base+"/ignition?mac=52-54-00-b2-2f-86")
	files, users, _ = ignitionFiles(t, httpGet(t, base+"/ignition?mac=52-54-00-b2-2f-86"))
	if files["/etc/motd"] != "imported from matchbox\n" || files["/etc/systemd/network/10-static.network"] == "" || len(users["core"]) != 1 {
		t.Errorf("node2: files %q users %q", files, users)
	}

	// --json: the plan as the API gives it.
	out = mustPixie(t, d, "import", "matchbox", dir, "--dry-run", "--json")
	var plan api.ImportPlan
	if err := json.Unmarshal([]byte(out), &plan); err != nil || plan.Applied || len(plan.Rows) == 0 {
		t.Fatalf("--json: %v %+v", err, plan)
	}
	for _, r := range plan.Rows {
		if r.Kind == "machine" && r.Status != api.ImportUnchanged {
			t.Errorf("--json after the import: %+v", r)
		}
	}
}

func TestImportReplaceAndPrefix(t *testing.T) {
	d := startDaemon(t)
	dir := t.TempDir()
	tr := importtest.Matchbox()
	tr.Write(t, dir)
	mustPixie(t, d, "import", "matchbox", dir)

	tr["groups/node1.json"] = strings.Replace(tr["groups/node1.json"], `"rack": "r1"`, `"rack": "r7"`, 1)
	tr[importtest.FCOSKernel] = "a rebuilt kernel\n"
	tr.Write(t, dir)
	out := mustPixie(t, d, "import", "matchbox", dir)
	wantContains(t, "changed tree", out, "kept", "--replace updates it", "already holds imported/matchbox/fedora-coreos")
	if m, _ := d.Store.Machine(t.Context(), importtest.Node1MAC); m.Vars["rack"] != "r1" {
		t.Errorf("without --replace node1's rack became %q", m.Vars["rack"])
	}
	out = mustPixie(t, d, "import", "matchbox", dir, "--replace")
	wantContains(t, "--replace", out, "replaced")
	if m, _ := d.Store.Machine(t.Context(), importtest.Node1MAC); m.Vars["rack"] != "r7" {
		t.Errorf("with --replace node1's rack is %q", m.Vars["rack"])
	}
	got, _ := os.ReadFile(filepath.Join(d.DataDir, "assets", "imported/matchbox", strings.TrimPrefix(importtest.FCOSKernel, "assets/")))
	if string(got) != "a rebuilt kernel\n" {
		t.Errorf("kernel after --replace: %q", got)
	}

	out = mustPixie(t, d, "import", "matchbox", dir, "--prefix", "mb-", "--dry-run")
	wantContains(t, "--prefix", out, "profile  mb-fedora-coreos", "default  mb-fedora-coreos")

	code, _, errOut := pixie(t, d, "", "import", "matchbox", dir, "--default", "nope")
	if code == 0 || !strings.Contains(errOut, "--default nope: the tree has no group without a selector") {
		t.Errorf("--default nope: exit %d: %s", code, errOut)
	}
}

func TestImportGuide(t *testing.T) {
	d := startDaemon(t)
	dir := t.TempDir()
	importtest.Guide().Write(t, dir)
	out := mustPixie(t, d, "import", "bootcfg", dir, "--dnsmasq", filepath.Join(dir, "dnsmasq.data/dnsmasq.conf"))
	wantContains(t, "guide import", out,
		"profile  first-time", "replaced", "replaces pixie's placeholder first-time profile",
		"pxe-ignition-default.json is not in the tree; used data/ignition/first-time.json",
		"machine  "+importtest.GuideMAC,
		"start pixie with `sudo pixie serve --address 10.2.0.200`",
		"dhcp-range=10.2.0.0,proxy: proxy DHCP")
	p, err := d.Store.Profile(t.Context(), "first-time")
	if err != nil || p.OS != "container-linux" || p.Kernel != "imported/bootcfg/coreos/current/coreos_production_pxe.vmlinuz" {
		t.Fatalf("first-time: %+v %v", p, err)
	}
	base := bootServer(t, d)
	wantContains(t, "guide script", httpGet(t, base+"/ipxe?mac=90-2b-34-14-f6-6a"),
		"coreos.autologin coreos.config.url="+base+"/ignition?mac=90-2b-34-14-f6-6a", "coreos.first_boot=1",
		base+"/assets/imported/bootcfg/coreos/current/coreos_production_pxe_image.cpio.gz")
	// Classic Container Linux gets the guide's first-spec config as it is.
	var got, want any
	json.Unmarshal([]byte(httpGet(t, base+"/ignition?mac=90-2b-34-14-f6-6a")), &got)
	json.Unmarshal([]byte(importtest.GuideFirstTime), &want)
	if g, _ := json.Marshal(got); string(g) != mustJSON(want) {
		t.Errorf("served config %s, want the guide's %s", g, mustJSON(want))
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestImportAllOrNothing(t *testing.T) {
	d := startDaemon(t)
	dir := t.TempDir()
	importtest.Matchbox().Write(t, dir)
	// Something in the asset store's way: the import's last asset cannot
	// be moved in, after the others were.
	blocker := filepath.Join(d.DataDir, "assets", "imported/matchbox/flatcar/3227.2.0/flatcar_production_pxe_image.cpio.gz")
	if err := os.MkdirAll(blocker, 0o755); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := pixie(t, d, "", "import", "matchbox", dir)
	if code == 0 || !strings.Contains(errOut, "is not a regular file: remove it and import again") || !strings.Contains(errOut, "nothing was imported") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if ps, _ := d.Store.Profiles(t.Context()); len(ps) != 1 {
		t.Errorf("a failed import left %d profiles", len(ps))
	}
	if ms, _ := d.Store.Machines(t.Context()); len(ms) != 0 {
		t.Errorf("a failed import left machines: %+v", ms)
	}
	if def, _ := d.Store.Setting(t.Context(), store.SettingDefaultProfile); def != store.DefaultProfileName {
		t.Errorf("a failed import changed the default to %q", def)
	}
	var files []string
	filepath.WalkDir(filepath.Join(d.DataDir, "assets"), func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 0 {
		t.Errorf("a failed import left files in the asset store: %q", files)
	}
}

func TestImportLink(t *testing.T) {
	d := startDaemon(t)
	dir := t.TempDir() // the same file system as the daemon's data directory
	importtest.Matchbox().Write(t, dir)
	out := mustPixie(t, d, "import", "matchbox", dir, "--link")
	wantContains(t, "--link", out, "hard-linked into the asset store (--link)")
	src, _ := os.Stat(filepath.Join(dir, importtest.FCOSKernel))
	dst, err := os.Stat(filepath.Join(d.DataDir, "assets", "imported/matchbox", strings.TrimPrefix(importtest.FCOSKernel, "assets/")))
	if err != nil || !os.SameFile(src, dst) {
		t.Errorf("--link: the asset store's kernel is not the tree's file: %v", err)
	}
}

func TestImportBadDirectory(t *testing.T) {
	d := startDaemon(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"import", "matchbox", filepath.Join(t.TempDir(), "nope")}, "there is no such file"},
		{[]string{"import", "matchbox", t.TempDir()}, "holds no profiles/*.json or groups/*.json: give the matchbox data directory"},
		{[]string{"import", "bootcfg", t.TempDir()}, "holds no data/specs/*/spec.json"},
		{[]string{"import", "matchbox"}, "the matchbox directory"},
	} {
		code, _, errOut := pixie(t, d, "", tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d: %s (want %q)", tc.args, code, errOut, tc.want)
		}
	}
}

func TestImportLinkAcrossFileSystems(t *testing.T) {
	if fi, err := os.Stat("/dev/shm"); err != nil || !fi.IsDir() {
		t.Skip("no /dev/shm (a tmpfs) to put the tree on another file system")
	}
	d := startDaemon(t)
	dir, err := os.MkdirTemp("/dev/shm", "pixie-import-")
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	importtest.Matchbox().Write(t, dir)
	code, _, errOut := pixie(t, d, "", "import", "matchbox", dir, "--link")
	if code == 0 || !strings.Contains(errOut, "is on another file system than pixie's asset store") || !strings.Contains(errOut, "leave --link out to copy") {
		t.Fatalf("--link across file systems: exit %d: %s", code, errOut)
	}
	if ps, _ := d.Store.Profiles(t.Context()); len(ps) != 1 {
		t.Errorf("a refused --link import left %d profiles", len(ps))
	}
}

// A client that sends other bytes than it hashed (the file changed while
// it was imported) gets a clear refusal, and nothing is imported.
func TestImportAssetChangedInFlight(t *testing.T) {
	d := startDaemon(t)
	dir := t.TempDir()
	importtest.Matchbox().Write(t, dir)
	req, err := readImportTree(api.ImportMatchbox, dir)
	if err != nil {
		t.Fatal(err)
	}
	c := api.NewClient(d.Socket)
	plan, err := c.PlanImport(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if err := hashImportAssets(&req, plan); err != nil {
		t.Fatal(err)
	}
	var copies []string
	for _, a := range plan.Assets {
		copies = append(copies, a.From)
	}
	_, err = c.ApplyImport(t.Context(), req, copies, func(p string) (io.ReadCloser, error) {
		if p == importtest.FCOSKernel {
			return io.NopCloser(strings.NewReader("stand-in FCOS kerneL\n")), nil // same size, other bytes
		}
		return os.Open(filepath.Join(dir, p))
	})
	if err == nil || !strings.Contains(err.Error(), "its SHA-256 is not the one the request named") || !strings.Contains(err.Error(), "nothing was imported") {
		t.Fatalf("changed asset: %v", err)
	}
	// Short of an asset the plan copies.
	_, err = c.ApplyImport(t.Context(), req, copies[1:], func(p string) (io.ReadCloser, error) { return os.Open(filepath.Join(dir, p)) })
	if err == nil || !strings.Contains(err.Error(), "the import body lacks "+copies[0]) {
		t.Fatalf("missing asset: %v", err)
	}
	if ps, _ := d.Store.Profiles(t.Context()); len(ps) != 1 {
		t.Errorf("refused imports left %d profiles", len(ps))
	}
	if leftovers, _ := filepath.Glob(filepath.Join(d.DataDir, "assets", ".import-*")); len(leftovers) > 0 {
		t.Errorf("staging left behind: %v", leftovers)
	}
}

// --link makes the daemon open a path of the caller's tree: it must answer
// alike for a file that is there with other content (one the caller could
// not read, say) and one that is not, so nobody probes the host with it.
func TestImportLinkRevealsNothing(t *testing.T) {
	d := startDaemon(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "assets"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "assets", "secret"), []byte("root's secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := api.NewClient(d.Socket)
	try := func(asset string) string {
		req := api.ImportRequest{Source: api.ImportMatchbox, Root: dir, Link: true,
			Files:  []api.ImportFile{{Path: "profiles/p.json", Content: `{"id": "p", "boot": {"kernel": "/assets/` + asset + `"}}`}},
			Assets: []api.ImportAsset{{Path: "assets/" + asset, Size: 14, SHA256: strings.Repeat("ab", 32)}}}
		_, err := c.ApplyImport(t.Context(), req, nil, nil)
		if err == nil {
			t.Fatalf("--link of %s with a made-up hash succeeded", asset)
		}
		return strings.ReplaceAll(err.Error(), asset, "FILE")
	}
	there, missing := try("secret"), try("nothing-here")
	if there != missing || !strings.Contains(there, "is not, for the daemon, the regular file you read") {
		t.Errorf("--link answers differ:\n  present: %s\n  missing: %s", there, missing)
	}
	if ps, _ := d.Store.Profiles(t.Context()); len(ps) != 1 {
		t.Errorf("a refused --link left %d profiles", len(ps))
	}
}
