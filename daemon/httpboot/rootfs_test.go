package httpboot

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/osprofile"
	"github.com/pixie-boot/pixie/daemon/store"
)

// TestRootfsFetchIsABootEvent follows a Fedora CoreOS live boot as a UEFI
// machine makes it: the boot script, the kernel and initramfs iPXE loads,
// the live rootfs the initramfs fetches through coreos.live.rootfs_url,
// and the Ignition config. Each fetch is a boot event of the MAC, with the
// architecture the boot script request reported.
func TestRootfsFetchIsABootEvent(t *testing.T) {
	f := newTokenFixture(t, 0)
	ctx := context.Background()
	dir := filepath.Join(f.assets, "fedora-coreos/stable/x86_64/43.1")
	os.MkdirAll(dir, 0o755)
	for _, n := range []string{"kernel", "initramfs.img", "rootfs.img"} {
		os.WriteFile(filepath.Join(dir, n), []byte(strings.Repeat(n, 100)), 0o644)
	}
	args, err := osprofile.Args(osprofile.Options{Kind: osprofile.FedoraCoreOS, Rootfs: "fedora-coreos/stable/x86_64/43.1/rootfs.img"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.CreateProfile(ctx, store.Profile{Name: "fcos", OS: "fedora-coreos",
		Kernel: "fedora-coreos/stable/x86_64/43.1/kernel", Initrds: []string{"fedora-coreos/stable/x86_64/43.1/initramfs.img"},
		Args: args, Ignition: `{"ignition":{"version":"3.4.0"}}`}); err != nil {
		t.Fatal(err)
	}
	const mac = "52:54:00:00:00:21"
	if _, err := f.store.PutMachine(ctx, store.Machine{MAC: mac, Profile: "fcos"}); err != nil {
		t.Fatal(err)
	}
	_, script := f.get(t, "/ipxe?mac=52-54-00-00-00-21&arch=x86_64&platform=efi")

	urls := map[string]string{}
	for _, re := range []struct{ name, re string }{
		{"kernel", `kernel --name kernel (\S+)`},
		{"initrd", `initrd --name \S+ (\S+)`},
		{"rootfs", `coreos\.live\.rootfs_url=(\S+)`},
		{"ignition", `ignition\.config\.url=(\S+)`},
	} {
		m := regexp.MustCompile(re.re).FindStringSubmatch(script)
		if m == nil {
			t.Fatalf("no %s URL in the boot script:\n%s", re.name, script)
		}
		urls[re.name] = strings.TrimPrefix(m[1], f.url)
	}
	if want := "/assets/fedora-coreos/stable/x86_64/43.1/rootfs.img?mac=52-54-00-00-00-21&stage=rootfs&arch=efi-x64"; urls["rootfs"] != want {
		t.Errorf("rootfs URL %q, want %q", urls["rootfs"], want)
	}
	for _, name := range []string{"kernel", "initrd", "rootfs", "ignition"} {
		if resp, body := f.get(t, urls[name]); resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
	var got []string
	f.rec.mu.Lock()
	for _, e := range f.rec.ev {
		if e.MAC != mac {
			continue
		}
		got = append(got, string(e.Stage))
		if e.Arch != "efi-x64" {
			t.Errorf("%s event has arch %q, want efi-x64", e.Stage, e.Arch)
		}
		if e.Stage == events.StageRootfs && !strings.Contains(e.Detail, "rootfs.img, 1000 bytes") {
			t.Errorf("rootfs event detail %q", e.Detail)
		}
	}
	f.rec.mu.Unlock()
	if strings.Join(got, " ") != "script kernel initrd rootfs ignition" {
		t.Errorf("events %v, want script kernel initrd rootfs ignition", got)
	}
}

func TestTagRootfs(t *testing.T) {
	r := Request{ServerURL: "http://10.0.0.2:8080", MAC: "52:54:00:00:00:01", Arch: "x86_64", Platform: "pcbios"}
	for _, tc := range []struct{ in, want string }{
		{"coreos.live.rootfs_url=http://10.0.0.2:8080/assets/f/rootfs.img ignition.firstboot",
			"coreos.live.rootfs_url=http://10.0.0.2:8080/assets/f/rootfs.img?mac=52-54-00-00-00-01&stage=rootfs&arch=bios ignition.firstboot"},
		// Elsewhere, or already with a query: left alone.
		{"coreos.live.rootfs_url=http://mirror/f/rootfs.img", "coreos.live.rootfs_url=http://mirror/f/rootfs.img"},
		{"coreos.live.rootfs_url=http://10.0.0.2:8080/assets/f/rootfs.img?x=1", "coreos.live.rootfs_url=http://10.0.0.2:8080/assets/f/rootfs.img?x=1"},
		{"console=ttyS0", "console=ttyS0"},
	} {
		if got := tagRootfs(tc.in, r); got != tc.want {
			t.Errorf("tagRootfs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// A client-reported architecture that is not a plain name is left out.
	if got := archParam(Request{Arch: "x86 64&x=1", Platform: "efi"}); got != "" {
		t.Errorf("archParam of a strange arch = %q", got)
	}
}
