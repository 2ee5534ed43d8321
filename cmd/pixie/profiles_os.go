package main

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/images"
	"github.com/pixie-boot/pixie/daemon/osprofile"
)

// osFlags are the `profiles add` and `profiles edit` flags that let pixie
// fill a profile in from a pulled image and the OS's documented kernel
// arguments.
type osFlags struct {
	stream     string
	channel    string
	arch       string
	mode       string
	installDev string
	console    []string
	autologin  bool
	legacyURL  bool
	sshKeys    []string
	noPhone    bool
}

// osFlagNames are the flags that change what complete fills in.
var osFlagNames = []string{"stream", "channel", "arch", "mode", "install-dev", "console", "autologin", "flatcar-config-url", "ssh-key", "no-phone-home"}

func (o *osFlags) register(f *pflag.FlagSet, edit bool) {
	keeps := ""
	if edit {
		keeps = "; edit keeps the current one"
	}
	f.StringVar(&o.stream, "stream", "", "use the latest pulled image of this Fedora CoreOS `STREAM`: stable, testing or next (default: the latest pulled of any stream"+keeps+"; see pixie images list)")
	f.StringVar(&o.channel, "channel", "", "use the latest pulled image of this Flatcar `CHANNEL`: stable, beta, alpha or lts (default: the latest pulled of any channel"+keeps+")")
	f.StringVar(&o.arch, "arch", "", "image `ARCH`: x86_64 or aarch64 (default x86_64"+keeps+")")
	f.StringVar(&o.mode, "mode", "", "fedora-coreos `MODE`: live (run from RAM, the default) or install (coreos-installer writes --install-dev)")
	f.StringVar(&o.installDev, "install-dev", "", "fedora-coreos --mode install: the target `DISK`, e.g. /dev/sda")
	f.StringArrayVar(&o.console, "console", nil, "add console=`SPEC` to the kernel arguments, e.g. ttyS0,115200n8 (repeatable; replaces the profile's consoles)")
	f.BoolVar(&o.autologin, "autologin", false, "flatcar, container-linux: log the console in automatically")
	f.BoolVar(&o.legacyURL, "flatcar-config-url", false, "flatcar: also pass flatcar.config.url= (releases before 3185 with Ignition 0.x)")
	f.StringArrayVar(&o.sshKeys, "ssh-key", nil, "generate the Ignition config: user core with the public key in `FILE` (repeatable), the machine's hostname and a unit calling the phone-home URL")
	f.BoolVar(&o.noPhone, "no-phone-home", false, "same as --phone-home none: the booted OS reports nothing")
	f.String("data-dir", "", "where to find pulled images: the daemon's data `DIR` (default: ask the running daemon)")
}

// complete checks the OS flags against the profile's OS kind and fills in
// what they imply, for the fields the user did not give: the kernel and
// initrds of the latest matching pulled image, the OS's documented kernel
// arguments, and the --ssh-key config. old is the profile before an edit
// (nil for add): an edit keeps the settings it does not change. It runs in
// the CLI: the image manifests are read from the data directory, like
// `pixie images list` does.
func (o *osFlags) complete(c *cli, cmd *cobra.Command, p *api.Profile, old *api.Profile) error {
	f := cmd.Flags()
	edit := old != nil
	kind, err := osprofile.ParseKind(p.OS)
	if err != nil {
		return usageError(fmt.Errorf("--os: %w", err))
	}
	pullable := kind == osprofile.FedoraCoreOS || kind == osprofile.Flatcar
	this := fmt.Sprintf("--os %s", kind)
	if edit && !f.Changed("os") {
		this = fmt.Sprintf("profile %s is %s", p.Name, kind)
	}

	// Stream or channel, and architecture: they choose a pulled image.
	stream, streamGiven := o.stream, f.Changed("stream") || f.Changed("channel")
	switch {
	case f.Changed("stream") && f.Changed("channel"):
		return usageErrorf("give --stream (Fedora CoreOS) or --channel (Flatcar), not both")
	case f.Changed("channel") && kind == osprofile.FedoraCoreOS:
		return usageErrorf("--channel is for flatcar: Fedora CoreOS has streams, give --stream")
	case f.Changed("channel"):
		stream = o.channel
	}
	if (streamGiven || f.Changed("arch")) && !pullable {
		return usageErrorf("--stream, --channel and --arch choose a pulled image, for fedora-coreos and flatcar profiles; %s (give --os fedora-coreos or --os flatcar, or --kernel PATH)", this)
	}
	if streamGiven {
		if err := osprofile.CheckStream(kind, stream); err != nil {
			return usageError(err)
		}
	}
	arch := ""
	if f.Changed("arch") {
		if arch, err = osprofile.NormalizeArch(o.arch); err != nil {
			return usageError(fmt.Errorf("--arch: %w", err))
		}
	}

	// Flags only some kinds understand.
	if (f.Changed("mode") || f.Changed("install-dev")) && kind != osprofile.FedoraCoreOS {
		return usageErrorf("--mode and --install-dev are for fedora-coreos (coreos-installer); %s", this)
	}
	if f.Changed("mode") && o.mode != string(osprofile.Live) && o.mode != string(osprofile.Install) {
		return usageErrorf("--mode %q: use live or install", o.mode)
	}
	if f.Changed("install-dev") && f.Changed("mode") && o.mode == string(osprofile.Live) {
		return usageErrorf("--install-dev is for --mode install: a live boot writes no disk")
	}
	if f.Changed("autologin") && kind != osprofile.Flatcar && kind != osprofile.ContainerLinux {
		return usageErrorf("--autologin is for flatcar and container-linux; %s", this)
	}
	if f.Changed("flatcar-config-url") && kind != osprofile.Flatcar {
		return usageErrorf("--flatcar-config-url is for flatcar; %s", this)
	}
	if o.noPhone && f.Changed("phone-home") {
		return usageErrorf("give --phone-home or --no-phone-home, not both")
	}
	if o.noPhone {
		p.PhoneHome = "none"
	}

	// --ssh-key generates the config.
	if len(o.sshKeys) > 0 {
		if f.Changed("ignition") {
			return usageErrorf("give --ignition/--butane FILE or --ssh-key FILE, not both (--ssh-key generates the config)")
		}
		cfg, err := o.generateConfig(kind)
		if err != nil {
			return err
		}
		p.Ignition = cfg
	}

	// The arguments' settings: on edit those of the current arguments,
	// changed by the flags given.
	opts := osprofile.Options{Kind: kind, Mode: osprofile.Live}
	if edit {
		opts = osprofile.FromArgs(kind, old.Args)
	}
	if f.Changed("mode") {
		opts.Mode = osprofile.Mode(o.mode)
	}
	if f.Changed("install-dev") {
		opts.InstallDev = o.installDev
		opts.Mode = osprofile.Install
	}
	if opts.Mode == osprofile.Live {
		opts.InstallDev = ""
	}
	if f.Changed("console") {
		opts.Console = o.console
	}
	if f.Changed("autologin") {
		opts.Autologin = o.autologin
	}
	if f.Changed("flatcar-config-url") {
		opts.LegacyConfigURL = o.legacyURL
	}
	if kind != osprofile.FedoraCoreOS {
		opts.Mode, opts.InstallDev, opts.Rootfs = "", "", ""
	}
	if kind != osprofile.Flatcar {
		opts.LegacyConfigURL = false
	}
	if kind != osprofile.Flatcar && kind != osprofile.ContainerLinux {
		opts.Autologin = false
	}
	if opts.Mode == osprofile.Install && opts.InstallDev == "" {
		return usageErrorf("--mode install needs the target disk: give --install-dev DISK, e.g. /dev/sda")
	}

	// The kernel and initrds from a pulled image: on add whenever --kernel
	// is not given, on edit when the OS or the image changes.
	osChanged := edit && f.Changed("os") && p.OS != old.OS
	var img *images.Image
	if !f.Changed("kernel") && (!edit || osChanged || streamGiven || f.Changed("arch")) {
		switch {
		case pullable:
			assets := c.assetsDir(cmd)
			if edit && (!streamGiven || arch == "") && !osChanged {
				// Keep the stream and architecture of the image the
				// profile boots now.
				if cur, ok := currentImage(assets, old.Kernel); ok {
					if !streamGiven {
						stream = cur.Stream
					}
					if arch == "" {
						arch = cur.Arch
					}
				}
			}
			if arch == "" {
				arch = "x86_64"
			}
			im, err := images.Latest(assets, string(kind), stream, arch)
			if err != nil {
				return notPulledErr(err, cmd)
			}
			p.Kernel = im.Kernel
			if !f.Changed("initrd") && !f.Changed("clear-initrds") {
				p.Initrds = im.Initramfs
			}
			if kind == osprofile.FedoraCoreOS {
				opts.Rootfs = im.Rootfs
			}
			img = &im
		case !edit:
			return usageErrorf("give the kernel with --kernel PATH (inside the asset store) or --kernel URL: pixie pulls images only for --os fedora-coreos and --os flatcar")
		}
	}

	// The kernel arguments, unless given: always on add, on edit when the
	// OS, its image or one of its settings changed.
	argFlags := false
	for _, n := range []string{"mode", "install-dev", "console", "autologin", "flatcar-config-url"} {
		argFlags = argFlags || f.Changed(n)
	}
	if !f.Changed("args") && (!edit || img != nil || osChanged || argFlags) {
		if kind == osprofile.FedoraCoreOS && opts.Rootfs == "" {
			if edit {
				return usageErrorf("profile %s: fedora-coreos needs its live rootfs (coreos.live.rootfs_url): give --stream to use a pulled image, or --args", p.Name)
			}
			// add --kernel without --args: the user's files; warned below.
		} else {
			if p.Args, err = osprofile.Args(opts); err != nil {
				return usageError(err)
			}
		}
	}

	if img != nil && !f.Changed("description") && (p.Description == "" || edit && strings.HasPrefix(p.Description, old.OS+" ")) {
		mode := opts.Mode
		if mode == "" {
			mode = osprofile.Live
		}
		p.Description = fmt.Sprintf("%s %s %s %s (%s)", img.OS, img.Stream, img.Arch, img.Version, mode)
	}
	var missing []string
	for _, m := range osprofile.Missing(kind, p.Args) {
		// The live rootfs may come as a second initrd instead (Fedora
		// CoreOS documents both).
		if m == "coreos.live.rootfs_url=" && slices.ContainsFunc(p.Initrds, func(s string) bool { return strings.Contains(path.Base(s), "rootfs") }) {
			continue
		}
		missing = append(missing, m)
	}
	if len(missing) > 0 {
		fmt.Fprintf(c.errOut, "warning: profile %s (%s) lacks the kernel arguments %s: a machine booting it may not find its root file system or its Ignition config (give --args, or leave out --kernel to fill them from a pulled image)\n",
			p.Name, kind, strings.Join(missing, ", "))
	}
	return nil
}

// currentImage finds the pulled image whose kernel a profile boots.
func currentImage(assets, kernel string) (images.Image, bool) {
	imgs, _ := images.List(assets)
	for _, im := range imgs {
		if im.Kernel == kernel {
			return im, true
		}
	}
	return images.Image{}, false
}

// notPulledErr says which pull command fetches a missing image, with the
// same --data-dir.
func notPulledErr(err error, cmd *cobra.Command) error {
	var np *images.NotPulledError
	if !errors.As(err, &np) {
		return err
	}
	pull := np.PullCommand()
	if d := cmd.Flag("data-dir"); d != nil && d.Value.String() != "" {
		pull += " --data-dir " + d.Value.String()
	}
	msg := fmt.Sprintf("no %s image has been pulled", strings.Join(strings.Fields(np.OS+" "+np.Stream+" "+np.Arch), " "))
	var have []string
	for _, im := range np.Pulled {
		if im.OS == np.OS {
			have = append(have, strings.Join(strings.Fields(im.Stream+" "+im.Arch+" "+im.Version), " "))
		}
	}
	if len(have) > 0 {
		msg += fmt.Sprintf(" (pulled %s images: %s)", np.OS, strings.Join(have, ", "))
	}
	return fmt.Errorf("%s: run `sudo %s` first, or give --kernel PATH and --initrd PATH", msg, pull)
}

// generateConfig writes the guide's first-time config as Butane: user core
// with the SSH keys, the machine's hostname, and a unit calling the
// profile's phone-home URL once the system is up. The unit is a template
// over the profile's --phone-home: none leaves it out, a URL of your own is
// called after pixie's /phone-home (which records the booted stage).
func (o *osFlags) generateConfig(kind osprofile.Kind) (string, error) {
	var keys []string
	for _, name := range o.sshKeys {
		b, err := readUserFile("--ssh-key", name, 1<<20)
		if err != nil {
			return "", err
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
		return "", usageErrorf("--ssh-key generates Ignition 3 (Butane) configs, which classic Container Linux cannot read: give --ignition with a legacy config")
	}
	b.WriteString("passwd:\n  users:\n    - name: core\n      ssh_authorized_keys:\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "        - %q\n", k)
	}
	b.WriteString("{{- if .Hostname}}\nstorage:\n  files:\n    - path: /etc/hostname\n      mode: 0644\n      overwrite: true\n      contents:\n        inline: {{json .Hostname}}\n{{- end}}\n")
	b.WriteString(`{{- if .PhoneHomeURL}}
systemd:
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
        ExecStart={{if ne .PhoneHomeURL .PixiePhoneHomeURL}}-{{end}}/usr/bin/curl -fsS --retry 10 --retry-delay 5 -X POST {{unitArg .PixiePhoneHomeURL}}
{{- if ne .PhoneHomeURL .PixiePhoneHomeURL}}
        ExecStart=/usr/bin/curl -fsS --retry 10 --retry-delay 5 -X POST {{unitArg .PhoneHomeURL}}
{{- end}}
        [Install]
        WantedBy=multi-user.target
{{- end}}
`)
	return b.String(), nil
}
