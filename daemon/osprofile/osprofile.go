// Package osprofile knows, per OS kind, which kernel arguments and which
// boot assets a network-booted machine needs, so nobody types them.
//
// The arguments it returns are kernel-argument templates as profiles store
// them: {{.IgnitionURL}} becomes the machine's own Ignition URL (with its
// per-boot token) and {{.ServerURL}} pixie's base URL when the boot script
// is rendered. initrd=NAME arguments are not included: the boot script adds
// one per initrd, named as iPXE loads it, which UEFI kernels need.
package osprofile

import (
	"fmt"
	"net/url"
	"strings"
)

// Kind is an OS family pixie knows how to boot.
type Kind string

const (
	Generic        Kind = "generic"
	FedoraCoreOS   Kind = "fedora-coreos"
	Flatcar        Kind = "flatcar"
	ContainerLinux Kind = "container-linux" // classic CoreOS Container Linux, as in the guide
)

// Kinds lists every kind, in the order help texts show them.
var Kinds = []Kind{Generic, FedoraCoreOS, Flatcar, ContainerLinux}

// ParseKind checks an OS kind's spelling.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	var names []string
	for _, k := range Kinds {
		names = append(names, string(k))
	}
	return "", fmt.Errorf("unknown OS %q (one of %s)", s, strings.Join(names, ", "))
}

// Mode says what a Fedora CoreOS boot does.
type Mode string

const (
	// Live runs the OS from RAM, provisioned by Ignition on every boot.
	Live Mode = "live"
	// Install runs coreos-installer from the live image, which writes the
	// OS to a disk with the Ignition config for its first boot there.
	Install Mode = "install"
)

// Options choose the arguments for one profile.
type Options struct {
	Kind Kind
	// Mode is Live (default) or Install; only Fedora CoreOS installs.
	Mode Mode
	// InstallDev is the disk coreos-installer writes, e.g. /dev/sda.
	InstallDev string
	// Rootfs is the live rootfs: a path inside the asset store or an
	// http(s) URL. Fedora CoreOS needs it.
	Rootfs string
	// Console adds console=VALUE for each entry, e.g. "ttyS0,115200n8".
	Console []string
	// Autologin logs in the console user automatically (Flatcar and
	// Container Linux).
	Autologin bool
	// LegacyConfigURL adds flatcar.config.url= as well as
	// ignition.config.url= for Flatcar releases with Ignition 0.x (before
	// 3185.0.0), which read the older spelling.
	LegacyConfigURL bool
	// Extra arguments appended as given.
	Extra string
}

// Args returns the kernel-argument template for the options.
func Args(o Options) (string, error) {
	var a []string
	add := func(s ...string) { a = append(a, s...) }
	mode := o.Mode
	if mode == "" {
		mode = Live
	}
	if mode != Live && mode != Install {
		return "", fmt.Errorf("unknown boot mode %q: use live or install", mode)
	}
	if mode == Install && o.Kind != FedoraCoreOS {
		return "", fmt.Errorf("the install mode is for fedora-coreos (coreos-installer); %s boots live", o.Kind)
	}
	switch o.Kind {
	case FedoraCoreOS:
		// https://docs.fedoraproject.org/en-US/fedora-coreos/live-booting/
		// and .../bare-metal/ (coreos/fedora-coreos-docs, live-booting.adoc
		// and bare-metal.adoc): the live PXE kernel line is
		//   initrd=main coreos.live.rootfs_url=… ignition.firstboot
		//   ignition.platform.id=metal ignition.config.url=…
		// and the install variant
		//   initrd=main coreos.live.rootfs_url=… coreos.inst.install_dev=…
		//   coreos.inst.ignition_url=…
		if o.Rootfs == "" {
			return "", fmt.Errorf("fedora-coreos needs its live rootfs image (coreos.live.rootfs_url)")
		}
		add("coreos.live.rootfs_url=" + assetURL(o.Rootfs))
		if mode == Install {
			if o.InstallDev == "" {
				return "", fmt.Errorf("the install mode needs the target disk, e.g. /dev/sda (coreos.inst.install_dev)")
			}
			if strings.ContainsAny(o.InstallDev, " \t\"'{}") {
				return "", fmt.Errorf("install disk %q: give a device path such as /dev/sda", o.InstallDev)
			}
			add("coreos.inst.install_dev="+o.InstallDev, "coreos.inst.ignition_url={{.IgnitionURL}}")
		} else {
			add("ignition.firstboot", "ignition.platform.id=metal", "ignition.config.url={{.IgnitionURL}}")
		}
	case Flatcar:
		// https://www.flatcar.org/docs/latest/installing/bare-metal/booting-with-ipxe/:
		//   flatcar.first_boot=1 ignition.config.url=…
		// and the migration notes: flatcar.config.url= is the older
		// spelling read by Ignition 0.x releases.
		add("flatcar.first_boot=1", "ignition.config.url={{.IgnitionURL}}")
		if o.LegacyConfigURL {
			add("flatcar.config.url={{.IgnitionURL}}")
		}
		if o.Autologin {
			add("flatcar.autologin")
		}
	case ContainerLinux:
		// The guide's spec.json and CoreOS's "Booting with iPXE":
		//   coreos.config.url=… coreos.first_boot=1 coreos.autologin
		add("coreos.config.url={{.IgnitionURL}}", "coreos.first_boot=1")
		if o.Autologin {
			add("coreos.autologin")
		}
	case Generic:
	default:
		return "", fmt.Errorf("unknown OS %q", o.Kind)
	}
	for _, c := range o.Console {
		add("console=" + c)
	}
	if e := strings.Join(strings.Fields(o.Extra), " "); e != "" {
		add(e)
	}
	return strings.Join(a, " "), nil
}

// assetURL is where the booted OS fetches an asset-store file over HTTP.
func assetURL(ref string) string {
	if strings.HasPrefix(ref, "http://") || strings.HasPrefix(ref, "https://") {
		return ref
	}
	segs := strings.Split(strings.TrimPrefix(ref, "/"), "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return "{{.ServerURL}}/assets/" + strings.Join(segs, "/")
}

// required lists, per kind, the arguments a working profile cannot lack.
func required(k Kind, args string) [][]string {
	switch k {
	case FedoraCoreOS:
		if strings.Contains(args, "coreos.inst.install_dev=") {
			return [][]string{{"coreos.live.rootfs_url="}, {"coreos.inst.ignition_url="}}
		}
		return [][]string{{"coreos.live.rootfs_url="}, {"ignition.firstboot"}, {"ignition.platform.id="}, {"ignition.config.url="}}
	case Flatcar:
		return [][]string{{"flatcar.first_boot="}, {"ignition.config.url=", "flatcar.config.url="}}
	case ContainerLinux:
		return [][]string{{"coreos.first_boot="}, {"coreos.config.url="}}
	}
	return nil
}

// Missing lists the arguments a profile of kind k needs and args lacks, so
// a hand-written argument line can be warned about.
func Missing(k Kind, args string) []string {
	fields := strings.Fields(args)
	var out []string
	for _, alts := range required(k, args) {
		found := false
		for _, want := range alts {
			for _, f := range fields {
				if f == want || strings.HasSuffix(want, "=") && strings.HasPrefix(f, want) {
					found = true
				}
			}
		}
		if !found {
			out = append(out, strings.Join(alts, " or "))
		}
	}
	return out
}

// Assets are the files a profile boots, as asset-store paths or URLs.
type Assets struct {
	Kernel  string
	Initrds []string
	// Rootfs is Fedora CoreOS's live rootfs, fetched by the initramfs
	// through coreos.live.rootfs_url rather than loaded by iPXE.
	Rootfs string
}

// managed are the argument keys Args writes; FromArgs reads them back and
// keeps everything else as Extra.
var managed = []string{
	"coreos.live.rootfs_url=", "ignition.firstboot", "ignition.platform.id=", "ignition.config.url=",
	"coreos.inst.install_dev=", "coreos.inst.ignition_url=",
	"flatcar.first_boot=", "flatcar.config.url=", "flatcar.autologin",
	"coreos.config.url=", "coreos.first_boot=", "coreos.autologin",
	"console=",
}

func isManaged(field string) bool {
	for _, m := range managed {
		if field == m || strings.HasSuffix(m, "=") && strings.HasPrefix(field, m) || field == strings.TrimSuffix(m, "=") {
			return true
		}
	}
	return false
}

// FromArgs reads a stored argument line back into Options for kind k, so
// editing one setting of a profile (its stream, its console, its install
// disk) keeps the others: the mode and install disk, the live rootfs (an
// asset-store path again when it points into pixie's store), the consoles,
// autologin, the Flatcar legacy URL, and every argument Args does not
// write, in Extra.
func FromArgs(k Kind, args string) Options {
	o := Options{Kind: k, Mode: Live}
	var extra []string
	for _, f := range strings.Fields(args) {
		switch {
		case strings.HasPrefix(f, "coreos.live.rootfs_url="):
			o.Rootfs = assetRef(strings.TrimPrefix(f, "coreos.live.rootfs_url="))
		case strings.HasPrefix(f, "coreos.inst.install_dev="):
			o.Mode, o.InstallDev = Install, strings.TrimPrefix(f, "coreos.inst.install_dev=")
		case strings.HasPrefix(f, "coreos.inst.ignition_url="):
			o.Mode = Install
		case strings.HasPrefix(f, "console="):
			o.Console = append(o.Console, strings.TrimPrefix(f, "console="))
		case f == "flatcar.autologin" || f == "coreos.autologin" || strings.HasPrefix(f, "flatcar.autologin=") || strings.HasPrefix(f, "coreos.autologin="):
			o.Autologin = true
		case strings.HasPrefix(f, "flatcar.config.url="):
			o.LegacyConfigURL = true
		case isManaged(f):
		default:
			extra = append(extra, f)
		}
	}
	o.Extra = strings.Join(extra, " ")
	return o
}

// assetRef turns an argument's {{.ServerURL}}/assets/PATH back into PATH.
func assetRef(u string) string {
	rest, ok := strings.CutPrefix(u, "{{.ServerURL}}/assets/")
	if !ok {
		return u
	}
	if p, err := url.PathUnescape(rest); err == nil {
		return p
	}
	return rest
}

// Streams lists the release streams (Fedora CoreOS) or channels (Flatcar)
// pixie can pull, in the order help texts show them.
func Streams(k Kind) []string {
	switch k {
	case FedoraCoreOS:
		return []string{"stable", "testing", "next"}
	case Flatcar:
		return []string{"stable", "beta", "alpha", "lts"}
	}
	return nil
}

// CheckStream says whether s is a stream (or channel) of kind k.
func CheckStream(k Kind, s string) error {
	ss := Streams(k)
	if ss == nil {
		return fmt.Errorf("%s has no release streams: only fedora-coreos (--stream) and flatcar (--channel) images are pulled", k)
	}
	for _, v := range ss {
		if v == s {
			return nil
		}
	}
	what := "stream"
	if k == Flatcar {
		what = "channel"
	}
	return fmt.Errorf("%s %s %q: use %s", k, what, s, strings.Join(ss, ", "))
}

// NormalizeArch spells an image architecture the way pulled images record
// it: x86_64 or aarch64 (amd64 and arm64 are accepted).
func NormalizeArch(a string) (string, error) {
	switch a {
	case "x86_64", "amd64":
		return "x86_64", nil
	case "aarch64", "arm64":
		return "aarch64", nil
	}
	return "", fmt.Errorf("architecture %q: use x86_64 or aarch64", a)
}
