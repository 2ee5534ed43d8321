// Package compose makes a boot profile from an OS and a pulled image: the
// daemon's side of "pixie profiles add/edit --os ... --stream ...
// --ssh-key ...". It fills in, for the settings the caller did not give,
// the kernel and initrds of the latest matching image in the asset store,
// the OS's documented kernel arguments (package osprofile), and the
// guide's first-time Ignition config from the caller's public keys.
//
// Messages name the settings as the CLI's flags spell them, the vocabulary
// the README and every client share.
package compose

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/images"
	"github.com/pixie-boot/pixie/daemon/osprofile"
)

// ErrInvalid marks a request that does not fit the OS (the caller's
// mistake); ErrNotPulled one whose image is not in the store.
var (
	ErrInvalid   = errors.New("invalid")
	ErrNotPulled = errors.New("not pulled")
)

// Error is a refusal: Kind is ErrInvalid or ErrNotPulled.
type Error struct {
	Kind error
	Msg  string
}

func (e *Error) Error() string        { return e.Msg }
func (e *Error) Is(target error) bool { return target == e.Kind }

func invalidf(format string, args ...any) error {
	return &Error{Kind: ErrInvalid, Msg: fmt.Sprintf(format, args...)}
}

func invalid(err error) error { return &Error{Kind: ErrInvalid, Msg: err.Error()} }

// Result is the profile made and what a person should know about it.
type Result struct {
	Profile  api.Profile
	Warnings []string
}

// Make completes r.Profile (on update: old with r's given fields applied)
// from the OS and the images in assets. old is the stored profile for an
// update, nil for a new one.
func Make(r api.OSProfileRequest, old *api.Profile, assets string) (Result, error) {
	given := map[string]bool{}
	for _, g := range r.Given {
		given[g] = true
	}
	p := r.Profile
	edit := old != nil
	if edit {
		p = merge(*old, r.Profile, given)
	}
	if p.OS == "" {
		p.OS = "generic"
	}
	kind, err := osprofile.ParseKind(p.OS)
	if err != nil {
		return Result{}, invalid(fmt.Errorf("--os: %w", err))
	}
	pullable := kind == osprofile.FedoraCoreOS || kind == osprofile.Flatcar
	this := fmt.Sprintf("--os %s", kind)
	if edit && !given["os"] {
		this = fmt.Sprintf("profile %s is %s", p.Name, kind)
	}

	// Stream or channel, and architecture: they choose a pulled image.
	stream, streamGiven := r.Stream, given["stream"] || given["channel"]
	switch {
	case given["stream"] && given["channel"]:
		return Result{}, invalidf("give --stream (Fedora CoreOS) or --channel (Flatcar), not both")
	case given["channel"] && kind == osprofile.FedoraCoreOS:
		return Result{}, invalidf("--channel is for flatcar: Fedora CoreOS has streams, give --stream")
	case given["channel"]:
		stream = r.Channel
	}
	if (streamGiven || given["arch"]) && !pullable {
		return Result{}, invalidf("--stream, --channel and --arch choose a pulled image, for fedora-coreos and flatcar profiles; %s (give --os fedora-coreos or --os flatcar, or --kernel PATH)", this)
	}
	if streamGiven {
		if err := osprofile.CheckStream(kind, stream); err != nil {
			return Result{}, invalid(err)
		}
	}
	arch := ""
	if given["arch"] {
		if arch, err = osprofile.NormalizeArch(r.Arch); err != nil {
			return Result{}, invalid(fmt.Errorf("--arch: %w", err))
		}
	}

	// Settings only some kinds understand.
	if (given["mode"] || given["install-dev"]) && kind != osprofile.FedoraCoreOS {
		return Result{}, invalidf("--mode and --install-dev are for fedora-coreos (coreos-installer); %s", this)
	}
	if given["mode"] && r.Mode != string(osprofile.Live) && r.Mode != string(osprofile.Install) {
		return Result{}, invalidf("--mode %q: use live or install", r.Mode)
	}
	if given["install-dev"] && given["mode"] && r.Mode == string(osprofile.Live) {
		return Result{}, invalidf("--install-dev is for --mode install: a live boot writes no disk")
	}
	if given["autologin"] && kind != osprofile.Flatcar && kind != osprofile.ContainerLinux {
		return Result{}, invalidf("--autologin is for flatcar and container-linux; %s", this)
	}
	if given["flatcar-config-url"] && kind != osprofile.Flatcar {
		return Result{}, invalidf("--flatcar-config-url is for flatcar; %s", this)
	}
	if r.NoPhoneHome && given["phone-home"] {
		return Result{}, invalidf("give --phone-home or --no-phone-home, not both")
	}
	if r.NoPhoneHome {
		p.PhoneHome = "none"
	}

	// SSH keys generate the config.
	if len(r.SSHKeys) > 0 {
		if given["ignition"] {
			return Result{}, invalidf("give --ignition/--butane FILE or --ssh-key FILE, not both (--ssh-key generates the config)")
		}
		cfg, err := FirstTimeConfig(kind, r.SSHKeys)
		if err != nil {
			return Result{}, err
		}
		p.Ignition = cfg
	}

	// The arguments' settings: on edit those of the current arguments,
	// changed by the settings given.
	opts := osprofile.Options{Kind: kind, Mode: osprofile.Live}
	if edit {
		opts = osprofile.FromArgs(kind, old.Args)
	}
	if given["mode"] {
		opts.Mode = osprofile.Mode(r.Mode)
	}
	if given["install-dev"] {
		opts.InstallDev = r.InstallDev
		opts.Mode = osprofile.Install
	}
	if opts.Mode == osprofile.Live {
		opts.InstallDev = ""
	}
	if given["console"] {
		opts.Console = r.Console
	}
	if given["autologin"] {
		opts.Autologin = r.Autologin
	}
	if given["flatcar-config-url"] {
		opts.LegacyConfigURL = r.FlatcarConfigURL
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
		return Result{}, invalidf("--mode install needs the target disk: give --install-dev DISK, e.g. /dev/sda")
	}

	// The kernel and initrds from a pulled image: on add whenever no
	// kernel is given, on edit when the OS or the image changes.
	osChanged := edit && given["os"] && p.OS != old.OS
	var img *images.Image
	if !given["kernel"] && (!edit || osChanged || streamGiven || given["arch"]) {
		switch {
		case pullable:
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
				return Result{}, notPulled(err)
			}
			p.Kernel = im.Kernel
			if !given["initrd"] && !given["clear-initrds"] {
				p.Initrds = im.Initramfs
			}
			if kind == osprofile.FedoraCoreOS {
				opts.Rootfs = im.Rootfs
			}
			img = &im
		case !edit:
			return Result{}, invalidf("give the kernel with --kernel PATH (inside the asset store) or --kernel URL: pixie pulls images only for --os fedora-coreos and --os flatcar")
		}
	}

	// The kernel arguments, unless given: always on add, on edit when the
	// OS, its image or one of its settings changed.
	argSet := false
	for _, n := range []string{"mode", "install-dev", "console", "autologin", "flatcar-config-url"} {
		argSet = argSet || given[n]
	}
	if !given["args"] && (!edit || img != nil || osChanged || argSet) {
		if kind == osprofile.FedoraCoreOS && opts.Rootfs == "" {
			if edit {
				return Result{}, invalidf("profile %s: fedora-coreos needs its live rootfs (coreos.live.rootfs_url): give --stream to use a pulled image, or --args", p.Name)
			}
			// add --kernel without --args: the user's files; warned below.
		} else if p.Args, err = osprofile.Args(opts); err != nil {
			return Result{}, invalid(err)
		}
	}

	if img != nil && !given["description"] && (p.Description == "" || edit && strings.HasPrefix(p.Description, old.OS+" ")) {
		mode := opts.Mode
		if mode == "" {
			mode = osprofile.Live
		}
		p.Description = fmt.Sprintf("%s %s %s %s (%s)", img.OS, img.Stream, img.Arch, img.Version, mode)
	}
	var res Result
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
		res.Warnings = append(res.Warnings, fmt.Sprintf("profile %s (%s) lacks the kernel arguments %s: a machine booting it may not find its root file system or its Ignition config (give --args, or leave out --kernel to fill them from a pulled image)",
			p.Name, kind, strings.Join(missing, ", ")))
	}
	res.Profile = p
	return res, nil
}

// merge applies the given fields of in over old (an edit). Vars are the
// caller's whole set: it read them and changed what it meant to.
func merge(old, in api.Profile, given map[string]bool) api.Profile {
	p := old
	p.Initrds = append([]string(nil), old.Initrds...)
	if given["kernel"] {
		p.Kernel = in.Kernel
	}
	if given["initrd"] || given["clear-initrds"] {
		p.Initrds = in.Initrds
	}
	if given["args"] {
		p.Args = in.Args
	}
	if given["os"] {
		p.OS = in.OS
	}
	if given["description"] {
		p.Description = in.Description
	}
	if given["ignition"] {
		p.Ignition = in.Ignition
	}
	if given["phone-home"] {
		p.PhoneHome = in.PhoneHome
	}
	if given["ignition-spec"] {
		p.IgnitionSpec = in.IgnitionSpec
	}
	if given["vars"] {
		p.Vars = in.Vars
	}
	return p
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

// notPulled says which pull command fetches a missing image.
func notPulled(err error) error {
	var np *images.NotPulledError
	if !errors.As(err, &np) {
		return err
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
	return &Error{Kind: ErrNotPulled, Msg: fmt.Sprintf("%s: run `%s` first, or give --kernel PATH and --initrd PATH", msg, np.PullCommand())}
}
