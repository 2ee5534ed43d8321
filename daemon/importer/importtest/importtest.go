// Package importtest holds the fixture trees the import tests write: the
// guide's bootcfg setup with its files as the guide's text shows them, and
// a matchbox data directory with several groups, selector kinds and broken
// inputs. Kernels and initrds are small stand-in files unless a test
// writes real ones over them.
package importtest

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/pixie-boot/pixie/daemon/api"
)

// Tree is a directory's files, by slash path.
type Tree map[string]string

// Write writes the tree under dir.
func (tr Tree) Write(t testing.TB, dir string) {
	t.Helper()
	for p, content := range tr {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// GuideMAC is the booted machine's MAC in the guide.
const GuideMAC = "90:2b:34:14:f6:6a"

// GuideFirstTime is the guide's data/ignition/first-time.json, as its text
// shows it.
const GuideFirstTime = `{
  "ignitionVersion": 1,
  "passwd": {
    "users": [
      {
        "name": "core",
        "sshAuthorizedKeys": [
          "PASTE YOUR SSH PUBLIC KEY HERE: CONTENTS OF FILE coreos-pxe.pub"
        ]
      }
    ]
  },
  "systemd": {
    "units": [
      {
        "name": "set-hostname.service",
        "enable": true,
        "contents": "[Unit]\n[Service]\nType=oneshot\nExecStart=/usr/bin/hostnamectl set-hostname first-time\n[Install]\nWantedBy=multi-user.target"
      }
    ]
  }
}
`

// GuideSpec is the guide's first-time spec.json, as its text shows it.
const GuideSpec = `{
  "id": "first-time",
  "boot": {
    "kernel": "/images/coreos/current/coreos_production_pxe.vmlinuz",
    "initrd": [
      "/images/coreos/current/coreos_production_pxe_image.cpio.gz"
    ],
    "cmdline": {
      "coreos.config.url": "http://10.2.0.200:8080/ignition?uuid=default",
      "coreos.autologin": "",
      "coreos.first_boot": "1"
    }
  },
  "ignition_id": "pxe-ignition-default.json"
}
`

// GuideDnsmasq is the guide's dnsmasq.data/dnsmasq.conf, as its text
// shows it.
const GuideDnsmasq = `# Disable DNS service
port=0

# Set the username that dnsmasq will switch to after startup
# note that dnsmasq must be started as root
user=spencer

# with no interface=, dnsmasq on OS X binds to UDP ports as follows:
#   67 (DHCP) on *
#   69 (TFTP) on adapter's IP e.g. 10.2.0.200 and also 127.0.0.1
#   4011 (PXE proxyDHCP) on *
#   also a bunch of IPv6 listent
#interface=en0

# with listen-address, dnsmasq on OS X binds to UDP ports as follows:
listen-address=10.2.0.200
#   67 (DHCP) on *
#   69 (TFTP) on listen-address IP
#   4011 (PXE proxyDHCP) on *

# bind-interfaces disallows binding to 0.0.0.0, because dnsmasq doesn't support that on OS X
# this avoids a warning in the log
bind-interfaces

# Make DHCP run in proxy mode, it does not supply IP addresses, only PXE responses
dhcp-range=10.2.0.0,proxy

# Relocate the dnsmasq.leases file which is created but not used
dhcp-leasefile=/Users/spencer/pixie/dnsmasq.data/dnsmasq.leases

# Enable the TFTP server
enable-tftp
tftp-root=/Users/spencer/pixie/dnsmasq.data/tftp

# kill multicast for DHCP PXE
dhcp-option=vendor:PXEClient,6,2b

# set tag "ipxe" if request comes from iPXE ("iPXE" user class)
dhcp-userclass=set:ipxe,iPXE

# if PXE request came from regular PXE firmware, serve iPXE firmware (via TFTP)
dhcp-boot=tag:!ipxe,undionly.kpxe
pxe-service=tag:!ipxe,x86PC,"PXE chainload to iPXE",undionly.kpxe

# if PXE request came from iPXE, grab an iPXE boot script from the bootcfg server
dhcp-boot=tag:ipxe,http://10.2.0.200:8080/boot.ipxe
pxe-service=tag:ipxe,x86PC,"Run iPXE boot",http://10.2.0.200:8080/boot.ipxe
`

// Guide is the guide's $CBM directory: the spec where its text puts it
// (data/spec/first-time/spec.json; its mkdir says data/specs), its
// first-time Ignition config, the machine directory it has the reader
// create for the noted MAC (the guide does not show machine.json; this is
// bootcfg's documented form of the time, referencing the spec), the
// images get-coreos downloads and its dnsmasq.conf.
func Guide() Tree {
	return Tree{
		"data/ignition/first-time.json":                             GuideFirstTime,
		"data/spec/first-time/spec.json":                            GuideSpec,
		"data/" + GuideMAC + "/machine.json":                        `{"id": "` + GuideMAC + `", "spec_id": "first-time"}` + "\n",
		"images/coreos/current/coreos_production_pxe.vmlinuz":       "stand-in Container Linux kernel\n",
		"images/coreos/current/coreos_production_pxe_image.cpio.gz": "stand-in Container Linux initrd\n",
		"dnsmasq.data/dnsmasq.conf":                                 GuideDnsmasq,
	}
}

// Matchbox machines.
const (
	Node1MAC = "52:54:00:89:d8:10"
	Node2MAC = "52:54:00:b2:2f:86"
	Node1Key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMatchboxNode1KeyForTheImportTest node1"
	DefKey   = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMatchboxDefaultKeyForTheImportTst default"
)

// FCOS asset paths in the matchbox tree.
const (
	FCOSDir    = "assets/fedora-coreos/36.20220906.3.2/"
	FCOSKernel = FCOSDir + "fedora-coreos-36.20220906.3.2-live-kernel-x86_64"
	FCOSInitrd = FCOSDir + "fedora-coreos-36.20220906.3.2-live-initramfs.x86_64.img"
	FCOSRootfs = FCOSDir + "fedora-coreos-36.20220906.3.2-live-rootfs.x86_64.img"
)

// FCOSButane is the fedora-coreos profile's Butane template, in matchbox's
// template names: selectors and metadata at the top level, the request's
// query under .request.
const FCOSButane = `variant: fcos
version: 1.4.0
passwd:
  users:
    - name: core
      ssh_authorized_keys:
{{- range $key := .ssh_authorized_keys}}
        - {{$key}}
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
        inline: "mac={{.mac}} query-mac={{.request.query.mac}} rack={{.rack}} q={{.request.raw_query}}"
systemd:
  units:
    - name: hello.service
      enabled: true
      contents: |
        [Service]
        Type=oneshot
        ExecStart=/usr/bin/echo hello {{.node_name}}
        [Install]
        WantedBy=multi-user.target
`

// FlatcarV1 is the flatcar profile's config: Ignition's first spec, which
// the import converts to spec 3 for Flatcar.
const FlatcarV1 = `{
  "ignitionVersion": 1,
  "storage": {
    "filesystems": [{
      "device": "/dev/disk/by-label/ROOT",
      "files": [{"path": "/etc/motd", "contents": "imported from matchbox\n", "mode": 420}]
    }],
    "disks": [{"device": "/dev/sda", "wipeTable": true}]
  },
  "networkd": {"units": [{"name": "10-static.network", "contents": "[Match]\nName=eth0\n"}]},
  "passwd": {"users": [{"name": "core", "sshAuthorizedKeys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFlatcarKey flatcar"]}]},
  "systemd": {"units": [{"name": "etcd2.service", "enable": true}]}
}
`

// Matchbox is a /var/lib/matchbox tree: a Fedora CoreOS live profile on
// local assets (--name initrds, initrd=main, the Ignition and rootfs URLs
// of the old server), a Flatcar profile with a first-spec config, a remote
// profile, and groups of every kind: a default, MAC-only groups, a MAC with
// another label, a UUID, a missing profile, a config that does not parse,
// and a file that is not JSON.
func Matchbox() Tree {
	return Tree{
		"profiles/fedora-coreos.json": `{
  "id": "fedora-coreos",
  "name": "Fedora CoreOS live",
  "boot": {
    "kernel": "/assets/fedora-coreos/36.20220906.3.2/fedora-coreos-36.20220906.3.2-live-kernel-x86_64",
    "initrd": ["--name main /assets/fedora-coreos/36.20220906.3.2/fedora-coreos-36.20220906.3.2-live-initramfs.x86_64.img"],
    "args": [
      "initrd=main",
      "coreos.live.rootfs_url=http://matchbox.example.com:8080/assets/fedora-coreos/36.20220906.3.2/fedora-coreos-36.20220906.3.2-live-rootfs.x86_64.img",
      "ignition.firstboot",
      "ignition.platform.id=metal",
      "ignition.config.url=http://matchbox.example.com:8080/ignition?uuid=${uuid}&mac=${mac:hexhyp}",
      "console=ttyS0"
    ]
  },
  "ignition_id": "fedora-coreos.yaml"
}
`,
		"profiles/flatcar.json": `{
  "id": "flatcar",
  "name": "Flatcar",
  "boot": {
    "kernel": "/assets/flatcar/3227.2.0/flatcar_production_pxe.vmlinuz",
    "initrd": ["/assets/flatcar/3227.2.0/flatcar_production_pxe_image.cpio.gz"],
    "args": ["flatcar.first_boot=yes", "flatcar.config.url=http://matchbox.example.com:8080/ignition?uuid=${uuid}&mac=${mac:hexhyp}"]
  },
  "ignition_id": "flatcar-v1.json"
}
`,
		"profiles/remote.json": `{
  "id": "remote",
  "boot": {
    "kernel": "https://builds.example.com/fcos/kernel",
    "initrd": ["https://builds.example.com/fcos/initramfs.img"],
    "args": ["ignition.firstboot", "ignition.platform.id=metal", "ignition.config.url=http://matchbox.example.com:8080/ignition?mac=${mac:hexhyp}"]
  },
  "ignition_id": "remote.ign",
  "generic_id": "setup.cfg"
}
`,
		"profiles/bad-template.json": `{
  "id": "bad-template",
  "boot": {"kernel": "/assets/fedora-coreos/36.20220906.3.2/fedora-coreos-36.20220906.3.2-live-kernel-x86_64", "args": ["ignition.config.url=http://matchbox.example.com:8080/ignition"]},
  "ignition_id": "broken.yaml"
}
`,
		"ignition/fedora-coreos.yaml": FCOSButane,
		"ignition/flatcar-v1.json":    FlatcarV1,
		"ignition/remote.ign":         `{"ignition": {"version": "3.3.0"}, "storage": {"files": [{"path": "/etc/remote", "contents": {"source": "data:,remote"}}]}}` + "\n",
		"ignition/broken.yaml":        "variant: fcos\nversion: 1.4.0\nstorage:\n  files:\n    - path: /etc/x\n      contents:\n        inline: {{.mac\n",
		"ignition/unused.yaml":        "variant: fcos\nversion: 1.4.0\n",
		"generic/setup.cfg":           "mac={{.mac}}\n",
		"groups/default.json": `{
  "id": "default",
  "name": "Machines matchbox does not know",
  "profile": "fedora-coreos",
  "metadata": {"node_name": "unknown", "rack": "none", "ssh_authorized_keys": ["` + DefKey + `"]}
}
`,
		"groups/node1.json": `{
  "id": "node1",
  "name": "node1",
  "profile": "fedora-coreos",
  "selector": {"mac": "` + Node1MAC + `"},
  "metadata": {"node_name": "node1", "rack": "r1", "hostname": "node1.example.com", "ssh_authorized_keys": ["` + Node1Key + `"], "etcd-peers": ["node1", "node2"], "replicas": 3}
}
`,
		"groups/node1-installed.json": `{
  "id": "node1-installed",
  "profile": "remote",
  "selector": {"mac": "` + Node1MAC + `", "os": "installed"}
}
`,
		"groups/node2.json": `{
  "id": "node2",
  "profile": "flatcar",
  "selector": {"mac": "52-54-00-b2-2f-86"},
  "metadata": {"hostname": "node2"}
}
`,
		"groups/by-uuid.json": `{"id": "by-uuid", "profile": "remote", "selector": {"uuid": "16e7d8a7-bfa9-428b-9117-363341bb330b"}}` + "\n",
		"groups/orphan.json":  `{"id": "orphan", "profile": "missing-profile", "selector": {"mac": "52:54:00:00:00:99"}}` + "\n",
		"groups/badtpl.json":  `{"id": "badtpl", "profile": "bad-template", "selector": {"mac": "52:54:00:00:00:98"}}` + "\n",
		"groups/broken.json":  `{"id": "broken", "profile": "fedora-coreos", "selector": {"mac": "52:54:00:00:00:97"},}` + "\n",
		FCOSKernel:            "stand-in FCOS kernel\n",
		FCOSInitrd:            "stand-in FCOS initramfs\n",
		FCOSRootfs:            "stand-in FCOS rootfs\n",
		"assets/flatcar/3227.2.0/flatcar_production_pxe.vmlinuz":       "stand-in Flatcar kernel\n",
		"assets/flatcar/3227.2.0/flatcar_production_pxe_image.cpio.gz": "stand-in Flatcar initrd\n",
		"assets/flatcar/3227.2.0/unused-file.bin":                      "not referenced\n",
	}
}

// Request is what the CLI sends for the tree: every file under assets/ or
// images/ as an asset (size and SHA-256), the rest as config files; a
// dnsmasq.conf anywhere is left for Dnsmasq.
func (tr Tree) Request(source string) api.ImportRequest {
	r := api.ImportRequest{Source: source, Root: "/srv/" + source}
	for _, p := range sortedPaths(tr) {
		c := tr[p]
		switch {
		case strings.HasPrefix(p, "assets/") || strings.HasPrefix(p, "images/"):
			sum := sha256.Sum256([]byte(c))
			r.Assets = append(r.Assets, api.ImportAsset{Path: p, Size: int64(len(c)), SHA256: hex.EncodeToString(sum[:])})
		case path.Base(p) == "dnsmasq.conf":
		default:
			r.Files = append(r.Files, api.ImportFile{Path: p, Content: c})
		}
	}
	return r
}

func sortedPaths(tr Tree) []string {
	out := make([]string, 0, len(tr))
	for p := range tr {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
