package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/httpboot"
	"github.com/pixie-boot/pixie/daemon/store"
)

func TestCLIImagesAndOSProfile(t *testing.T) {
	d := startDaemon(t)
	data := d.DataDir

	// A generic image from a local server (127.0.0.1 only).
	kernel := []byte(strings.Repeat("k", 4096))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(kernel) }))
	defer srv.Close()
	sum := sha256.Sum256(kernel)
	out := mustPixie(t, d, "images", "pull", "generic", "--name", "tiny", "--url", srv.URL+"/vmlinuz#sha256="+hex.EncodeToString(sum[:]))
	wantContains(t, "pull", out, "generic", "pulled")
	out = mustPixie(t, d, "images", "pull", "generic", "--name", "tiny", "--url", srv.URL+"/vmlinuz#sha256="+hex.EncodeToString(sum[:]))
	wantContains(t, "pull again", out, "already present, verified")
	if code, _, errOut := pixie(t, d, "", "images", "pull", "generic", "--name", "bad", "--url", srv.URL+"/vmlinuz#sha256="+strings.Repeat("0", 64)); code == 0 || !strings.Contains(errOut, "checksum mismatch") {
		t.Errorf("corrupt generic pull: exit %d %s", code, errOut)
	}

	// A Fedora CoreOS image as `images pull` leaves it.
	dir := filepath.Join(data, "assets/fedora-coreos/stable/x86_64/41.1")
	os.MkdirAll(dir, 0o755)
	for _, n := range []string{"k", "i.img", "r.img"} {
		os.WriteFile(filepath.Join(dir, n), []byte(n), 0o644)
	}
	m, _ := json.Marshal(map[string]any{"os": "fedora-coreos", "stream": "stable", "arch": "x86_64", "version": "41.1",
		"kernel": "fedora-coreos/stable/x86_64/41.1/k", "initramfs": []string{"fedora-coreos/stable/x86_64/41.1/i.img"},
		"rootfs": "fedora-coreos/stable/x86_64/41.1/r.img", "pulled_at": "2025-01-01T00:00:00Z"})
	os.WriteFile(filepath.Join(dir, "pixie-image.json"), m, 0o644)
	wantContains(t, "list", mustPixie(t, d, "images", "list"), "fedora-coreos/stable/x86_64/41.1", "generic/tiny")

	key := filepath.Join(t.TempDir(), "id.pub")
	os.WriteFile(key, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITESTKEY me@laptop\n"), 0o644)
	mustPixie(t, d, "profiles", "add", "fcos", "--os", "fedora-coreos", "--stream", "stable", "--ssh-key", key)
	var p api.Profile
	json.Unmarshal([]byte(mustPixie(t, d, "profiles", "show", "fcos", "--json")), &p)
	if p.Kernel != "fedora-coreos/stable/x86_64/41.1/k" || len(p.Initrds) != 1 ||
		p.Args != "coreos.live.rootfs_url={{.ServerURL}}/assets/fedora-coreos/stable/x86_64/41.1/r.img ignition.firstboot ignition.platform.id=metal ignition.config.url={{.IgnitionURL}}" ||
		!strings.HasPrefix(p.Ignition, "variant: fcos") {
		t.Fatalf("profile %+v", p)
	}
	// What a machine gets: the key, its hostname, and the phone-home unit.
	plan := store.BootPlan{Profile: store.Profile{Name: p.Name, OS: p.OS, Ignition: p.Ignition}, Machine: store.Machine{Hostname: "node1"}}
	ign, err := httpboot.RenderIgnition(plan, httpboot.Request{ServerURL: "http://10.0.0.2:8080", MAC: "52:54:00:00:00:01", Token: "TOK"})
	if err != nil {
		t.Fatal(err)
	}
	wantContains(t, "ignition", string(ign), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITESTKEY me@laptop", "data:,node1", "pixie-phone-home.service", "token=TOK")

	// Refusals with clear messages.
	bad := filepath.Join(t.TempDir(), "bad.bu")
	os.WriteFile(bad, []byte("variant: fcos\nversion: 1.5.0\nstorage:\n  files:\n    - path: etc/x\n"), 0o644)
	code, _, errOut := pixie(t, d, "", "profiles", "add", "bad", "--os", "fedora-coreos", "--butane", bad)
	if code == 0 || !strings.Contains(errOut, "line 5 col 13: path not absolute") {
		t.Errorf("bad Butane: exit %d %s", code, errOut)
	}
	code, _, errOut = pixie(t, d, "", "profiles", "add", "fl", "--os", "flatcar")
	if code == 0 || !strings.Contains(errOut, "pixie images pull flatcar") {
		t.Errorf("flatcar without a pulled image: exit %d %s", code, errOut)
	}
	mustPixie(t, d, "images", "rm", "generic/tiny")
	if strings.Contains(mustPixie(t, d, "images", "list"), "generic/tiny") {
		t.Error("rm did not remove")
	}
}
