package osprofile_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pixie-boot/pixie/daemon/httpboot"
	"github.com/pixie-boot/pixie/daemon/osprofile"
	"github.com/pixie-boot/pixie/daemon/store"
)

// The expected kernel lines are the distributions' documented ones with
// their example URLs replaced by pixie's. The sources:
//
//   - Fedora CoreOS live PXE: docs.fedoraproject.org/en-US/fedora-coreos/live-booting/
//     (coreos/fedora-coreos-docs modules/ROOT/pages/live-booting.adoc), iPXE:
//     kernel ${BASEURL}/fedora-coreos-${VERSION}-live-kernel-x86_64 initrd=main
//     coreos.live.rootfs_url=${BASEURL}/fedora-coreos-${VERSION}-live-rootfs.x86_64.img
//     ignition.firstboot ignition.platform.id=metal ignition.config.url=${CONFIGURL}
//     initrd --name main ${BASEURL}/fedora-coreos-${VERSION}-live-initramfs.x86_64.img
//   - Fedora CoreOS install to disk: .../fedora-coreos/bare-metal/ (bare-metal.adoc), iPXE:
//     kernel ${BASEURL}/fedora-coreos-${VERSION}-live-kernel-x86_64 initrd=main
//     coreos.live.rootfs_url=${BASEURL}/fedora-coreos-${VERSION}-live-rootfs.x86_64.img
//     coreos.inst.install_dev=${INSTALLDEV} coreos.inst.ignition_url=${CONFIGURL}
//   - Flatcar: flatcar.org/docs/latest/installing/bare-metal/booting-with-ipxe/:
//     kernel ${base-url}/flatcar_production_pxe.vmlinuz initrd=flatcar_production_pxe_image.cpio.gz
//     flatcar.first_boot=1 ignition.config.url=https://example.com/pxe-config.ign
//     and flatcar.org/docs/latest/migrating-from-coreos/ for flatcar.config.url
//     (the spelling Ignition 0.x releases read) and flatcar.autologin.
//   - Container Linux: the guide's spec.json ("coreos.config.url",
//     "coreos.autologin", "coreos.first_boot": "1") and CoreOS's iPXE doc:
//     kernel ${base-url}/coreos_production_pxe.vmlinuz initrd=coreos_production_pxe_image.cpio.gz
//     coreos.first_boot=1 coreos.config.url=https://example.com/pxe-config.ign
func TestArgs(t *testing.T) {
	const fcosRootfs = "fedora-coreos/stable/x86_64/41.20241109.3.0/fedora-coreos-41.20241109.3.0-live-rootfs.x86_64.img"
	tests := []struct {
		name string
		opts osprofile.Options
		want string
	}{
		{"fcos live", osprofile.Options{Kind: osprofile.FedoraCoreOS, Rootfs: fcosRootfs},
			"coreos.live.rootfs_url={{.ServerURL}}/assets/" + fcosRootfs + " ignition.firstboot ignition.platform.id=metal ignition.config.url={{.IgnitionURL}}"},
		{"fcos live, rootfs by URL, serial console", osprofile.Options{Kind: osprofile.FedoraCoreOS, Rootfs: "http://mirror.example/rootfs.img", Console: []string{"tty0", "ttyS0,115200n8"}},
			"coreos.live.rootfs_url=http://mirror.example/rootfs.img ignition.firstboot ignition.platform.id=metal ignition.config.url={{.IgnitionURL}} console=tty0 console=ttyS0,115200n8"},
		{"fcos install", osprofile.Options{Kind: osprofile.FedoraCoreOS, Mode: osprofile.Install, InstallDev: "/dev/sda", Rootfs: fcosRootfs},
			"coreos.live.rootfs_url={{.ServerURL}}/assets/" + fcosRootfs + " coreos.inst.install_dev=/dev/sda coreos.inst.ignition_url={{.IgnitionURL}}"},
		{"flatcar", osprofile.Options{Kind: osprofile.Flatcar},
			"flatcar.first_boot=1 ignition.config.url={{.IgnitionURL}}"},
		{"flatcar with Ignition 0.x", osprofile.Options{Kind: osprofile.Flatcar, LegacyConfigURL: true, Autologin: true},
			"flatcar.first_boot=1 ignition.config.url={{.IgnitionURL}} flatcar.config.url={{.IgnitionURL}} flatcar.autologin"},
		{"container linux", osprofile.Options{Kind: osprofile.ContainerLinux, Autologin: true},
			"coreos.config.url={{.IgnitionURL}} coreos.first_boot=1 coreos.autologin"},
		{"generic", osprofile.Options{Kind: osprofile.Generic, Extra: "  quiet   rd.shell=0 "}, "quiet rd.shell=0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := osprofile.Args(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("args (-want +got):\n%s", diff)
			}
			if m := osprofile.Missing(tt.opts.Kind, got); len(m) > 0 {
				t.Errorf("generated args lack %v", m)
			}
		})
	}
}

func TestArgsErrors(t *testing.T) {
	for _, o := range []osprofile.Options{
		{Kind: osprofile.FedoraCoreOS},                                           // no rootfs
		{Kind: osprofile.FedoraCoreOS, Rootfs: "r.img", Mode: osprofile.Install}, // no disk
		{Kind: osprofile.FedoraCoreOS, Rootfs: "r.img", Mode: osprofile.Install, InstallDev: "/dev/sda {{.X}}"},
		{Kind: osprofile.Flatcar, Mode: osprofile.Install},
		{Kind: "windows"},
	} {
		if got, err := osprofile.Args(o); err == nil {
			t.Errorf("Args(%+v) = %q, want an error", o, got)
		}
	}
}

func TestMissing(t *testing.T) {
	got := osprofile.Missing(osprofile.FedoraCoreOS, "ignition.firstboot ignition.config.url=http://x/ign")
	want := []string{"coreos.live.rootfs_url=", "ignition.platform.id="}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("missing (-want +got):\n%s", diff)
	}
	if got := osprofile.Missing(osprofile.Flatcar, "flatcar.first_boot=1 flatcar.config.url=http://x"); len(got) != 0 {
		t.Errorf("flatcar with the old spelling: missing %v", got)
	}
}

// TestBootScriptMatchesDocs renders the generated arguments through the
// boot script, as a machine gets them, and compares the kernel line with
// the documented one (initrd=NAME comes from the boot script).
func TestBootScriptMatchesDocs(t *testing.T) {
	const dir = "fedora-coreos/stable/x86_64/41.20241109.3.0/"
	args, err := osprofile.Args(osprofile.Options{Kind: osprofile.FedoraCoreOS, Rootfs: dir + "fedora-coreos-41.20241109.3.0-live-rootfs.x86_64.img"})
	if err != nil {
		t.Fatal(err)
	}
	plan := store.BootPlan{Profile: store.Profile{
		Name: "fcos", OS: "fedora-coreos",
		Kernel:  dir + "fedora-coreos-41.20241109.3.0-live-kernel-x86_64",
		Initrds: []string{dir + "fedora-coreos-41.20241109.3.0-live-initramfs.x86_64.img"},
		Args:    args,
	}}
	req := httpboot.Request{ServerURL: "http://10.2.0.200:8080", MAC: "52:54:00:12:34:56"}
	script, err := httpboot.BootScript(plan, req, 10)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://10.2.0.200:8080/assets/" + dir
	want := "kernel --name kernel " + base + "fedora-coreos-41.20241109.3.0-live-kernel-x86_64?mac=52-54-00-12-34-56&stage=kernel" +
		" initrd=fedora-coreos-41.20241109.3.0-live-initramfs.x86_64.img" +
		// The rootfs URL carries the MAC and stage, so the initramfs's
		// fetch is recorded as the machine's rootfs boot event.
		" coreos.live.rootfs_url=" + base + "fedora-coreos-41.20241109.3.0-live-rootfs.x86_64.img?mac=52-54-00-12-34-56&stage=rootfs" +
		" ignition.firstboot ignition.platform.id=metal ignition.config.url=http://10.2.0.200:8080/ignition?mac=52-54-00-12-34-56"
	var kernelLine string
	for _, l := range strings.Split(script, "\n") {
		if strings.HasPrefix(l, "kernel ") {
			kernelLine = strings.TrimSuffix(l, " || goto failed")
		}
	}
	if diff := cmp.Diff(want, kernelLine); diff != "" {
		t.Errorf("kernel line (-want +got):\n%s\nscript:\n%s", diff, script)
	}
}
