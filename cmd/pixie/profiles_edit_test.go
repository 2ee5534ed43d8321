package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/httpboot"
	"github.com/pixie-boot/pixie/daemon/store"
)

// fakePull leaves an image in data's asset store the way `pixie images
// pull` does: its files and its manifest.
func fakePull(t *testing.T, data, osName, stream, arch, version string, rootfs bool) {
	t.Helper()
	rel := filepath.ToSlash(filepath.Join(osName, stream, arch, version))
	dir := filepath.Join(data, "assets", rel)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	m := map[string]any{"os": osName, "stream": stream, "arch": arch, "version": version,
		"kernel": rel + "/kernel", "initramfs": []string{rel + "/initramfs.img"}, "pulled_at": "2026-01-01T00:00:00Z"}
	files := []string{"kernel", "initramfs.img"}
	if rootfs {
		m["rootfs"] = rel + "/rootfs.img"
		files = append(files, "rootfs.img")
	}
	for _, n := range files {
		os.WriteFile(filepath.Join(dir, n), []byte(n), 0o644)
	}
	b, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, "pixie-image.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func showProfile(t *testing.T, d *testDaemon, name string) api.Profile {
	t.Helper()
	var p api.Profile
	if err := json.Unmarshal([]byte(mustPixie(t, d, "profiles", "show", name, "--json")), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// wantFail runs the CLI and checks that it fails with the exit code and
// a message containing each of wants.
func wantFail(t *testing.T, d *testDaemon, code int, wants []string, args ...string) {
	t.Helper()
	got, _, errOut := pixie(t, d, "", args...)
	if got != code {
		t.Errorf("pixie %s: exit %d, want %d (%s)", strings.Join(args, " "), got, code, errOut)
	}
	wantContains(t, "pixie "+strings.Join(args, " "), errOut, wants...)
}

// renderFor renders a stored profile's config for one machine, as
// /ignition does.
func renderFor(t *testing.T, d *testDaemon, name string) string {
	t.Helper()
	p, err := d.Store.Profile(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	ign, err := httpboot.RenderIgnition(store.BootPlan{Profile: p, Machine: store.Machine{Hostname: "node1"}},
		httpboot.Request{ServerURL: "http://10.0.0.2:8080", MAC: "52:54:00:00:00:01", Token: "TOK"})
	if err != nil {
		t.Fatal(err)
	}
	return string(ign)
}

func TestCLIProfilesEditOS(t *testing.T) {
	d := startDaemon(t)
	data := d.DataDir
	fakePull(t, data, "fedora-coreos", "stable", "x86_64", "43.1", true)
	fakePull(t, data, "fedora-coreos", "testing", "x86_64", "44.1", true)
	fakePull(t, data, "flatcar", "stable", "amd64", "4459.1.0", false)
	var dd []string // the daemon finds its own images
	edit := func(args ...string) string {
		t.Helper()
		return mustPixie(t, d, append(append([]string{"profiles", "edit"}, args...), dd...)...)
	}

	mustPixie(t, d, append([]string{"profiles", "add", "fcos", "--os", "fedora-coreos", "--stream", "stable"}, dd...)...)
	p := showProfile(t, d, "fcos")
	if p.Kernel != "fedora-coreos/stable/x86_64/43.1/kernel" || p.PhoneHome != "default" || p.Description != "fedora-coreos stable x86_64 43.1 (live)" {
		t.Fatalf("added: %+v", p)
	}

	// A console is added to the arguments; the image stays.
	edit("fcos", "--console", "ttyS0,115200n8")
	p = showProfile(t, d, "fcos")
	if want := "coreos.live.rootfs_url={{.ServerURL}}/assets/fedora-coreos/stable/x86_64/43.1/rootfs.img ignition.firstboot ignition.platform.id=metal ignition.config.url={{.IgnitionURL}} console=ttyS0,115200n8"; p.Args != want {
		t.Errorf("edit --console: args %q, want %q", p.Args, want)
	}

	// Another stream: kernel, initrds, rootfs and description follow; the
	// console stays.
	edit("fcos", "--stream", "testing")
	p = showProfile(t, d, "fcos")
	if p.Kernel != "fedora-coreos/testing/x86_64/44.1/kernel" || len(p.Initrds) != 1 || p.Initrds[0] != "fedora-coreos/testing/x86_64/44.1/initramfs.img" ||
		!strings.Contains(p.Args, "rootfs_url={{.ServerURL}}/assets/fedora-coreos/testing/x86_64/44.1/rootfs.img ") ||
		!strings.HasSuffix(p.Args, " console=ttyS0,115200n8") || p.Description != "fedora-coreos testing x86_64 44.1 (live)" {
		t.Errorf("edit --stream testing: %+v", p)
	}

	// Install to disk keeps the image.
	edit("fcos", "--mode", "install", "--install-dev", "/dev/vda")
	p = showProfile(t, d, "fcos")
	if want := "coreos.live.rootfs_url={{.ServerURL}}/assets/fedora-coreos/testing/x86_64/44.1/rootfs.img coreos.inst.install_dev=/dev/vda coreos.inst.ignition_url={{.IgnitionURL}} console=ttyS0,115200n8"; p.Args != want {
		t.Errorf("edit --mode install: args %q, want %q", p.Args, want)
	}
	edit("fcos", "--mode", "live")
	if p = showProfile(t, d, "fcos"); strings.Contains(p.Args, "coreos.inst") || !strings.Contains(p.Args, "ignition.firstboot") {
		t.Errorf("edit --mode live: args %q", p.Args)
	}

	// Images that are not pulled: the exact pull command.
	wantFail(t, d, 1, []string{"no fedora-coreos next x86_64 image has been pulled", "`pixie images pull fedora-coreos --stream next`",
		"pulled fedora-coreos images: "}, append([]string{"profiles", "edit", "fcos", "--stream", "next"}, dd...)...)
	wantFail(t, d, 1, []string{"`pixie images pull fedora-coreos --stream testing --arch aarch64`"},
		append([]string{"profiles", "edit", "fcos", "--arch", "aarch64"}, dd...)...)
	if p2 := showProfile(t, d, "fcos"); p2.Kernel != p.Kernel || p2.Args != p.Args {
		t.Errorf("a failed edit changed the profile: %+v", p2)
	}

	// Flags that do not fit the profile's OS.
	for _, tc := range []struct {
		args  []string
		wants []string
	}{
		{[]string{"fcos", "--channel", "beta"}, []string{"--channel is for flatcar"}},
		{[]string{"fcos", "--stream", "beta"}, []string{`fedora-coreos stream "beta": use stable, testing, next`}},
		{[]string{"fcos", "--arch", "mips"}, []string{`--arch: architecture "mips": use x86_64 or aarch64`}},
		{[]string{"fcos", "--autologin"}, []string{"--autologin is for flatcar and container-linux; profile fcos is fedora-coreos"}},
		{[]string{"fcos", "--mode", "disk"}, []string{`--mode "disk": use live or install`}},
		{[]string{"fcos", "--mode", "install"}, []string{"--install-dev DISK"}},
		{[]string{"first-time", "--stream", "stable"}, []string{"for fedora-coreos and flatcar profiles; profile first-time is generic"}},
		{[]string{"fcos", "--os", "plan9"}, []string{`unknown OS "plan9"`}},
		{[]string{"fcos", "--phone-home", "ftp://x/up"}, []string{"--phone-home \"ftp://x/up\": give an http:// or https:// URL, default"}},
		{[]string{"fcos", "--phone-home", "default", "--no-phone-home"}, []string{"not both"}},
		{[]string{"fcos", "--var", "bad-name=1"}, []string{"write it as NAME=VALUE"}},
		{[]string{"fcos", "--unset-var", "nope"}, []string{"profile fcos has no variable nope"}},
		{[]string{"fcos"}, []string{"nothing to change in profile fcos"}},
	} {
		wantFail(t, d, 2, tc.wants, append(append([]string{"profiles", "edit"}, tc.args...), dd...)...)
	}

	// --ssh-key, --phone-home and --var on edit: the generated config
	// calls pixie's /phone-home and then the profile's own URL.
	key := filepath.Join(t.TempDir(), "id.pub")
	os.WriteFile(key, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITESTKEY me@laptop\n"), 0o644)
	edit("fcos", "--ssh-key", key, "--phone-home", "https://inventory.example/up?mac={{.MAC}}&role={{.Vars.role}}", "--var", "role=worker", "--var", "zone=a")
	p = showProfile(t, d, "fcos")
	if !strings.HasPrefix(p.Ignition, "variant: fcos") || p.PhoneHome != "https://inventory.example/up?mac={{.MAC}}&role={{.Vars.role}}" || p.Vars["role"] != "worker" || p.Vars["zone"] != "a" {
		t.Fatalf("edit --ssh-key --phone-home --var: %+v", p)
	}
	ign := renderFor(t, d, "fcos")
	wantContains(t, "config with a phone-home URL", ign, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITESTKEY me@laptop", "pixie-phone-home.service",
		`ExecStart=-/usr/bin/curl -fsS --retry 10 --retry-delay 5 -X POST \"http://10.0.0.2:8080/phone-home?mac=52-54-00-00-00-01\u0026token=TOK\"`,
		`ExecStart=/usr/bin/curl -fsS --retry 10 --retry-delay 5 -X POST \"https://inventory.example/up?mac=52:54:00:00:00:01\u0026role=worker\"`)
	show := mustPixie(t, d, "profiles", "show", "fcos")
	wantContains(t, "show", show, "phone-home:   https://inventory.example/up?mac={{.MAC}}&role={{.Vars.role}} (after pixie's /phone-home)", "vars:         role=worker\n              zone=a\n")

	// default: only pixie's endpoint; none: no unit at all.
	edit("fcos", "--phone-home", "default", "--unset-var", "zone")
	ign = renderFor(t, d, "fcos")
	if strings.Count(ign, "ExecStart=") != 1 || !strings.Contains(ign, `ExecStart=/usr/bin/curl -fsS --retry 10 --retry-delay 5 -X POST \"http://10.0.0.2:8080/phone-home?mac=52-54-00-00-00-01\u0026token=TOK\"`) {
		t.Errorf("phone-home default: %s", ign)
	}
	if p = showProfile(t, d, "fcos"); len(p.Vars) != 1 {
		t.Errorf("--unset-var zone: vars %v", p.Vars)
	}
	edit("fcos", "--no-phone-home")
	if ign = renderFor(t, d, "fcos"); strings.Contains(ign, "pixie-phone-home") || !strings.Contains(ign, "ssh-ed25519") {
		t.Errorf("phone-home none: %s", ign)
	}
	wantContains(t, "show none", mustPixie(t, d, "profiles", "show", "fcos"), "phone-home:   none\n")

	// Switching the seeded generic profile to Flatcar: the kernel comes
	// from the pulled image, the arguments are Flatcar's, its consoles
	// stay, and --ssh-key writes a flatcar config.
	edit("first-time", "--os", "flatcar", "--channel", "stable", "--autologin", "--ssh-key", key)
	p = showProfile(t, d, "first-time")
	if p.OS != "flatcar" || p.Kernel != "flatcar/stable/amd64/4459.1.0/kernel" || len(p.Initrds) != 1 ||
		p.Args != "flatcar.first_boot=1 ignition.config.url={{.IgnitionURL}} flatcar.autologin console=tty0 console=ttyS0" ||
		!strings.HasPrefix(p.Ignition, "variant: flatcar") {
		t.Errorf("first-time to flatcar: %+v", p)
	}
	wantFail(t, d, 1, []string{"`pixie images pull flatcar --channel beta`"},
		append([]string{"profiles", "edit", "first-time", "--channel", "beta"}, dd...)...)

	// add: a Flatcar channel by --channel, and the exact pull command.
	mustPixie(t, d, append([]string{"profiles", "add", "fl", "--os", "flatcar", "--channel", "stable", "--arch", "amd64", "--var", "role=edge"}, dd...)...)
	if p = showProfile(t, d, "fl"); p.Kernel != "flatcar/stable/amd64/4459.1.0/kernel" || p.Vars["role"] != "edge" {
		t.Errorf("add --channel: %+v", p)
	}
	wantFail(t, d, 1, []string{"`pixie images pull flatcar --channel alpha --arch aarch64`"},
		append([]string{"profiles", "add", "fl2", "--os", "flatcar", "--channel", "alpha", "--arch", "aarch64"}, dd...)...)
	// add --kernel for Fedora CoreOS without arguments: stored, with a warning.
	_, _, errOut := pixie(t, d, "", append([]string{"profiles", "add", "bare", "--os", "fedora-coreos", "--kernel", "k"}, dd...)...)
	wantContains(t, "add fcos --kernel without --args", errOut, "warning: profile bare (fedora-coreos) lacks the kernel arguments coreos.live.rootfs_url=")
}
