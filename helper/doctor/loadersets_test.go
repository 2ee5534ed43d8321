package doctor

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/store"
)

func TestCheckLoaderSets(t *testing.T) {
	const fcos = "fedora-coreos/stable/x86_64/43.20251110.3.1"
	images := map[string]ProfileImage{
		"fcos-own":  {Dir: fcos, OS: "fedora-coreos", Stream: "stable", Arch: "x86_64", OwnSet: true},
		"fcos-bare": {Dir: "fedora-coreos/testing/aarch64/43.1", OS: "fedora-coreos", Stream: "testing", Arch: "aarch64"},
		"flatcar":   {Dir: "flatcar/stable/amd64/4081.2.0", OS: "flatcar", Stream: "stable", Arch: "amd64"},
	}
	tests := []struct {
		name     string
		machines []api.Machine
		def      string // the server's default loader, from the daemon
		want     []string
	}{
		{name: "nobody on GRUB: no lines",
			machines: []api.Machine{{MAC: "m1", Profile: "fcos-bare", Loader: "auto"}, {MAC: "m2", Profile: "fcos-bare", Loader: "ipxe"}}},
		{name: "pinned machine, image without its set: warn with the pull command",
			machines: []api.Machine{{MAC: "m1", Profile: "fcos-bare", Loader: "grub"}},
			want:     []string{"warn loader set for profile fcos-bare: machines on GRUB (m1) boot Fedora CoreOS fedora-coreos/testing/aarch64/43.1, which has no Fedora shim and GRUB of its own | `sudo pixie images pull fedora-coreos --stream testing --arch aarch64`"}},
		{name: "stepped by the ladder, image with its set: ok",
			machines: []api.Machine{{MAC: "m1", Profile: "fcos-own", LoaderStep: "grub"}, {MAC: "m2", Profile: "fcos-own", Loader: "grub"}},
			want:     []string{"ok loader set for profile fcos-own: machines on GRUB (m1, m2) get " + fcos + "'s own shim and GRUB"}},
		{name: "a pin to ipxe wins over a grub rung",
			machines: []api.Machine{{MAC: "m1", Profile: "fcos-bare", Loader: "ipxe", LoaderStep: "grub"}}},
		{name: "server default grub: the default profile for unknown machines, and auto machines",
			def:      "grub",
			machines: []api.Machine{{MAC: "m1", Profile: "flatcar", Loader: "auto"}},
			want: []string{"warn loader set for profile default: machines on GRUB (every machine pixie does not know yet)",
				"ok loader set for profile flatcar: machines on GRUB (m1) get the server-wide shim and GRUB"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			imgs := map[string]ProfileImage{}
			for k, v := range images {
				imgs[k] = v
			}
			imgs["default"] = images["fcos-bare"]
			f := Facts{Machines: tt.machines, DefaultProfile: "default", ProfileImages: imgs, Daemon: &api.Status{DefaultLoader: tt.def}}
			got := checkLoaderSets(f)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d checks %+v, want %d", len(got), got, len(tt.want))
			}
			for i, w := range tt.want {
				line := string(got[i].Status) + " " + got[i].Name + ": " + got[i].Message + " | " + got[i].Fix
				head, fix, _ := strings.Cut(w, " | ")
				if !strings.HasPrefix(line, head) || fix != "" && !strings.Contains(got[i].Fix, fix) {
					t.Errorf("check %d = %q\nwant prefix %q, fix %q", i, line, head, fix)
				}
			}
		})
	}
	// Evaluate includes them, and a warning does not block booting.
	r := Evaluate(Facts{Machines: []api.Machine{{MAC: "m1", Profile: "fcos-bare", Loader: "grub"}}, ProfileImages: images})
	found := false
	for _, c := range r.Checks {
		found = found || c.Name == "loader set for profile fcos-bare" && c.Status == Warn
	}
	if !found {
		t.Errorf("Evaluate has no loader-set warning: %+v", r.Checks)
	}
}

func TestProfileImages(t *testing.T) {
	data := t.TempDir()
	const dir = "fedora-coreos/stable/x86_64/43.20251110.3.1"
	img := filepath.Join(data, "assets", dir)
	os.MkdirAll(filepath.Join(img, "loaders"), 0o755)
	m, _ := json.Marshal(map[string]any{"os": "fedora-coreos", "stream": "stable", "arch": "x86_64", "version": "43.20251110.3.1", "dir": dir})
	os.WriteFile(filepath.Join(img, "pixie-image.json"), m, 0o644)
	profiles := []api.Profile{{Name: "fcos", Kernel: dir + "/kernel"}, {Name: "remote", Kernel: "https://example.test/k"}, {Name: "own", Kernel: "mine/vmlinuz"}}
	got := profileImages(data, profiles)
	if p, ok := got["fcos"]; !ok || p.OwnSet || p.OS != "fedora-coreos" || p.Dir != dir {
		t.Fatalf("without loaders: %+v", got)
	}
	if len(got) != 1 {
		t.Fatalf("profiles not from a pulled image were listed: %+v", got)
	}
	os.WriteFile(filepath.Join(img, "loaders", "shimx64.efi"), []byte("shim"), 0o644)
	if profileImages(data, profiles)["fcos"].OwnSet {
		t.Fatal("a shim without its GRUB counted as a set")
	}
	os.WriteFile(filepath.Join(img, "loaders", "grubx64.efi"), []byte("grub"), 0o644)
	if !profileImages(data, profiles)["fcos"].OwnSet {
		t.Fatal("the set was not seen")
	}
}

func TestReadLoaders(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pixie.db")
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutMachine(ctx, store.Machine{MAC: "52:54:00:00:00:01", Loader: "grub"}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetSetting(ctx, store.SettingDefaultLoader, "ipxe"); err != nil {
		t.Fatal(err)
	}
	st.Close()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f := &Facts{}
	if err := readProfiles(ctx, db, f); err != nil {
		t.Fatal(err)
	}
	readLoaders(ctx, db, f)
	if len(f.Machines) != 1 || f.Machines[0].Loader != "grub" || f.DefaultLoader != "ipxe" {
		t.Fatalf("machines %+v, default loader %q", f.Machines, f.DefaultLoader)
	}
}
