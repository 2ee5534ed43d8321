package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/pixie-boot/pixie/daemon/api"
)

// osFlags are the `profiles add` and `profiles edit` flags that let the
// daemon fill a profile in from a pulled image and the OS's documented
// kernel arguments (POST /v1/profiles/from-os).
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
}

// request turns the OS flags into the daemon's "make a profile from this
// OS and image" request for p (the profile flags applied; on edit, the
// stored profile with them applied). The daemon fills in the rest from its
// pulled images; here only the --ssh-key files are read, with the
// caller's own permissions.
func (o *osFlags) request(f *pflag.FlagSet, p api.Profile, save string) (api.OSProfileRequest, error) {
	r := api.OSProfileRequest{Profile: p, Save: save, Stream: o.stream, Channel: o.channel, Arch: o.arch, Mode: o.mode,
		InstallDev: o.installDev, Console: o.console, Autologin: o.autologin, FlatcarConfigURL: o.legacyURL, NoPhoneHome: o.noPhone}
	for _, n := range append([]string{"kernel", "initrd", "clear-initrds", "args", "os", "description", "ignition", "phone-home", "ignition-spec"}, osFlagNames...) {
		if f.Changed(n) {
			r.Given = append(r.Given, n)
		}
	}
	if f.Changed("var") || f.Changed("unset-var") {
		r.Given = append(r.Given, "vars")
	}
	for _, name := range o.sshKeys {
		b, err := readUserFile("--ssh-key", name, 1<<20)
		if err != nil {
			return r, err
		}
		r.SSHKeys = append(r.SSHKeys, string(b))
	}
	return r, nil
}

// saveFromOS sends the request and prints the daemon's warnings. A
// setting that does not fit the OS is a command-line mistake.
func (c *cli) saveFromOS(ctx context.Context, r api.OSProfileRequest) (api.OSProfileResult, error) {
	res, err := c.client().ProfileFromOS(ctx, r)
	if api.IsCode(err, api.CodeBadSetting) {
		return res, usageError(err)
	}
	if err != nil {
		return res, err
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(c.errOut, "warning: %s\n", w)
	}
	return res, nil
}
