package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/images"
	"github.com/pixie-boot/pixie/daemon/osprofile"
)

// osFlags are the `profiles add` flags that let pixie fill a profile in
// from a pulled image and the OS's documented kernel arguments.
type osFlags struct {
	stream     string
	arch       string
	mode       string
	installDev string
	console    []string
	autologin  bool
	legacyURL  bool
	sshKeys    []string
	noPhone    bool
}

func (o *osFlags) register(f *pflag.FlagSet) {
	f.StringVar(&o.stream, "stream", "", "use the latest pulled image of this Fedora CoreOS `STREAM` or Flatcar channel (see pixie images list)")
	f.StringVar(&o.arch, "arch", "x86_64", "image `ARCH`: x86_64 or aarch64")
	f.StringVar(&o.mode, "mode", "live", "fedora-coreos: live (run from RAM) or install (coreos-installer writes --install-dev)")
	f.StringVar(&o.installDev, "install-dev", "", "fedora-coreos --mode install: the target `DISK`, e.g. /dev/sda")
	f.StringArrayVar(&o.console, "console", nil, "add console=`SPEC` to the kernel arguments, e.g. ttyS0,115200n8 (repeatable)")
	f.BoolVar(&o.autologin, "autologin", false, "flatcar, container-linux: log the console in automatically")
	f.BoolVar(&o.legacyURL, "flatcar-config-url", false, "flatcar: also pass flatcar.config.url= (releases before 3185 with Ignition 0.x)")
	f.StringArrayVar(&o.sshKeys, "ssh-key", nil, "generate the Ignition config: user core with the public key in `FILE` (repeatable), the machine's hostname and a phone-home unit")
	f.BoolVar(&o.noPhone, "no-phone-home", false, "with --ssh-key: leave out the unit that reports the finished boot to pixie")
	f.String("data-dir", "", "where to find pulled images: the daemon's data `DIR` (default: ask the running daemon)")
}

// fill completes p from the pulled image and the OS's arguments, for the
// fields the user did not give. It runs in the CLI: the image manifest is
// read from the data directory, like `pixie images list`.
func (o *osFlags) fill(c *cli, cmd *cobra.Command, p *api.Profile, ignitionGiven bool) error {
	f := cmd.Flags()
	kind, err := osprofile.ParseKind(p.OS)
	if err != nil {
		return usageError(err)
	}
	if len(o.sshKeys) > 0 && ignitionGiven {
		return usageErrorf("give --ignition FILE or --ssh-key FILE, not both (--ssh-key generates the config)")
	}
	if len(o.sshKeys) > 0 {
		cfg, err := o.generateConfig(kind)
		if err != nil {
			return err
		}
		p.Ignition = cfg
	}
	if f.Changed("kernel") {
		if !f.Changed("args") && (kind == osprofile.Flatcar || kind == osprofile.ContainerLinux) {
			p.Args, err = osprofile.Args(osprofile.Options{Kind: kind, Console: o.console, Autologin: o.autologin, LegacyConfigURL: o.legacyURL})
		}
		return err
	}
	if kind != osprofile.FedoraCoreOS && kind != osprofile.Flatcar {
		return usageErrorf("give the kernel with --kernel PATH (inside the asset store) or --kernel URL")
	}
	img, err := images.Latest(c.assetsDir(cmd), string(kind), o.stream, o.arch)
	if err != nil {
		return err
	}
	p.Kernel = img.Kernel
	if !f.Changed("initrd") {
		p.Initrds = img.Initramfs
	}
	if !f.Changed("args") {
		p.Args, err = osprofile.Args(osprofile.Options{Kind: kind, Mode: osprofile.Mode(o.mode), InstallDev: o.installDev,
			Rootfs: img.Rootfs, Console: o.console, Autologin: o.autologin, LegacyConfigURL: o.legacyURL})
		if err != nil {
			return usageError(err)
		}
	}
	if p.Description == "" {
		p.Description = fmt.Sprintf("%s %s %s %s (%s)", img.OS, img.Stream, img.Arch, img.Version, o.mode)
	}
	return nil
}

// generateConfig writes the guide's first-time config as Butane: user core
// with the SSH keys, the machine's hostname, and a unit calling pixie's
// phone-home URL once the system is up.
func (o *osFlags) generateConfig(kind osprofile.Kind) (string, error) {
	var keys []string
	for _, name := range o.sshKeys {
		b, err := os.ReadFile(name)
		if err != nil {
			return "", fmt.Errorf("--ssh-key: %w", err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			l = strings.TrimSpace(l)
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			if strings.HasPrefix(l, "-----BEGIN") || !strings.Contains(l, " ") {
				return "", fmt.Errorf("--ssh-key %s: give the public key (.pub), not the private one", name)
			}
			if strings.Contains(l, "{{") || strings.Contains(l, "}}") {
				return "", fmt.Errorf("--ssh-key %s: a key line contains {{ or }}", name)
			}
			keys = append(keys, l)
		}
	}
	if len(keys) == 0 {
		return "", fmt.Errorf("--ssh-key: no public key found in %s", strings.Join(o.sshKeys, ", "))
	}
	var b strings.Builder
	switch kind {
	case osprofile.FedoraCoreOS, osprofile.Generic:
		b.WriteString("variant: fcos\nversion: 1.5.0\n")
	case osprofile.Flatcar:
		b.WriteString("variant: flatcar\nversion: 1.1.0\n")
	default:
		return "", fmt.Errorf("--ssh-key generates Ignition 3 (Butane) configs, which classic Container Linux cannot read: give --ignition with a legacy config")
	}
	b.WriteString("passwd:\n  users:\n    - name: core\n      ssh_authorized_keys:\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "        - %q\n", k)
	}
	b.WriteString("{{- if .Hostname}}\nstorage:\n  files:\n    - path: /etc/hostname\n      mode: 0644\n      overwrite: true\n      contents:\n        inline: {{json .Hostname}}\n{{- end}}\n")
	if !o.noPhone {
		b.WriteString(`systemd:
  units:
    - name: pixie-phone-home.service
      enabled: true
      contents: |
        [Unit]
        Description=Tell the pixie boot server this machine is up
        Wants=network-online.target
        After=network-online.target
        [Service]
        Type=oneshot
        ExecStart=/usr/bin/curl -fsS --retry 10 --retry-delay 5 -X POST {{json .PhoneHomeURL}}
        [Install]
        WantedBy=multi-user.target
`)
	}
	return b.String(), nil
}
