package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/importer/importtest"
	"github.com/pixie-boot/pixie/internal/testnet"
)

// The machines matchbox groups name in TestImportMatchboxBoots.
const (
	macImported     = "52:54:00:e2:17:01" // SeaBIOS with the NIC's iPXE ROM
	macImportedUEFI = "52:54:00:e2:17:02" // OVMF's own PXE client, then ipxe.efi
)

// TestImportMatchboxBoots moves a matchbox data directory into a running
// pixie with `pixie import matchbox` and boots the imported machine: a
// profile on local assets (Debian's kernel and the real-Ignition initrd,
// an initrd in matchbox's "--name main" form with initrd=main among the
// arguments, the old server's Ignition URL), a Butane template in
// matchbox's names (.mac, the group's metadata, .ssh_authorized_keys), a
// MAC-only group for the VM, a group with one more label and a default
// group. Two VMs (SeaBIOS with the NIC's iPXE ROM; OVMF's own PXE client
// loading ipxe.efi over TFTP) network-boot the imported profile, Ignition fetches the translated config from pixie's
// {{.IgnitionURL}} and applies it, and the test checks what Ignition wrote:
// what matchbox's rules say the machine's group gives it.
func TestImportMatchboxBoots(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM under TCG: not with -short")
	}
	testnet.RequireVM(t)
	testnet.RequireIgnition(t)
	p := startPixieLAN(t, pixieOptions{})

	k, err := testnet.FindKernel()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "assets", "debian"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := testnet.CopyFile(filepath.Join(dir, "assets", "debian", "vmlinuz"), k.Path); err != nil {
		t.Fatal(err)
	}
	if err := testnet.WriteIgnitionInitrd(filepath.Join(dir, "assets", "debian", "ignition-initrd.img"), k); err != nil {
		t.Fatal(err)
	}
	key := testSSHKey("matchbox-import@e2e")
	tree := importtest.Tree{
		"profiles/debian-ignition.json": `{
  "id": "debian-ignition",
  "name": "Debian kernel with the real Ignition",
  "boot": {
    "kernel": "/assets/debian/vmlinuz",
    "initrd": ["--name main /assets/debian/ignition-initrd.img"],
    "args": ["initrd=main", "console=ttyS0", "panic=5", "ignition.firstboot", "ignition.platform.id=metal",
      "ignition.config.url=http://matchbox.example.com:8080/ignition?uuid=${uuid}&mac=${mac:hexhyp}"]
  },
  "ignition_id": "node.yaml"
}
`,
		// Butane fcos 1.4.0 is spec 3.3.0, what Debian's Ignition 2.14 reads.
		"ignition/node.yaml": `variant: fcos
version: 1.4.0
passwd:
  users:
    - name: core
      ssh_authorized_keys:
{{- range $k := .ssh_authorized_keys}}
        - {{$k}}
{{- end}}
storage:
  files:
    - path: /etc/hostname
      mode: 0644
      contents:
        inline: {{.node_name}}
    - path: /etc/matchbox-import
      mode: 0644
      contents:
        inline: mac={{.mac}} rack={{.rack}}
`,
		"groups/node.json": `{"id": "node", "profile": "debian-ignition", "selector": {"mac": "` + macImported + `"},
  "metadata": {"node_name": "imported-node", "rack": "r2", "ssh_authorized_keys": ["` + key + `"]}}
`,
		"groups/node-uefi.json": `{"id": "node-uefi", "profile": "debian-ignition", "selector": {"mac": "` + macImportedUEFI + `"},
  "metadata": {"node_name": "imported-uefi", "rack": "r3", "ssh_authorized_keys": ["` + key + `"]}}
`,
		"groups/node-installed.json": `{"id": "node-installed", "profile": "debian-ignition", "selector": {"mac": "` + macImported + `", "os": "installed"}}
`,
		"groups/default.json": `{"id": "default", "profile": "debian-ignition", "metadata": {"node_name": "unknown", "rack": "none", "ssh_authorized_keys": []}}
`,
	}
	tree.Write(t, dir)

	out := p.MustCLI(t, "import", "matchbox", dir)
	t.Logf("pixie import matchbox:\n%s", out)
	for _, want := range []string{"profile  debian-ignition", "machine  " + macImported, "default  debian-ignition", "group    node-installed", "os=installed", "copied into the asset store"} {
		if !strings.Contains(out, want) {
			t.Errorf("import summary lacks %q", want)
		}
	}
	if again := p.MustCLI(t, "import", "matchbox", dir); !strings.Contains(again, "Nothing to change") {
		t.Errorf("a second import changed something:\n%s", again)
	}

	// Side by side, one TCG vCPU each. On UEFI, ipxe.efi's kernel finds
	// its initramfs only by the initrd= name pixie puts in place of
	// matchbox's initrd=main.
	t.Run("boots", func(t *testing.T) {
		for _, vm := range []struct {
			name, mac, node, rack string
			fw                    testnet.Firmware
		}{
			{"bios", macImported, "imported-node", "r2", testnet.BIOS},
			{"uefi", macImportedUEFI, "imported-uefi", "r3", testnet.UEFI},
		} {
			t.Run(vm.name, func(t *testing.T) {
				t.Parallel()
				res := p.bootWith(t, testnet.VMOptions{Firmware: vm.fw, MAC: vm.mac, Timeout: 300 * time.Second, StopOn: ignitionStops()})
				t.Logf("%s boot of the imported profile to Ignition applied: %s", vm.name, res)
				rep := ignitionApplied(t, res)
				hyph := strings.ReplaceAll(vm.mac, ":", "-")
				cmdline, _ := markerValue(res.Log, testnet.MarkerCmdline)
				if strings.Contains(cmdline, "initrd=main") || !strings.Contains(cmdline, "initrd=ignition-initrd.img") ||
					!strings.Contains(cmdline, "ignition.config.url="+p.URL()+"/ignition?mac="+hyph) {
					t.Errorf("kernel command line %q: want pixie's initrd name and Ignition URL in place of matchbox's", cmdline)
				}
				rep.wantFile(t, "/etc/hostname", "0644", vm.node)
				rep.wantFile(t, "/etc/matchbox-import", "0644", "mac="+vm.mac+" rack="+vm.rack)
				if got := rep.one(t, testnet.MarkerIgnSSHKey); got != "core "+key {
					t.Errorf("authorized key %q, want core %s (the group's metadata)", got, key)
				}
				es := p.Timeline(t, vm.mac)
				checkTimeline(t, p, vm.mac, 0, []string{"dhcp", "script", "kernel", "initrd", "ignition"}, nil)
				t.Logf("imported matchbox machine (%s), Ignition applied %s", vm.name, phases(res, es))
			})
		}
	})
}
