package osprofile_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pixie-boot/pixie/daemon/osprofile"
)

// TestFromArgsRoundTrip: what Args writes, FromArgs reads back, so an
// edit that changes one setting keeps the others.
func TestFromArgsRoundTrip(t *testing.T) {
	for _, o := range []osprofile.Options{
		{Kind: osprofile.FedoraCoreOS, Mode: osprofile.Live, Rootfs: "fedora-coreos/stable/x86_64/43.1/rootfs.img", Console: []string{"ttyS0,115200n8"}, Extra: "quiet"},
		{Kind: osprofile.FedoraCoreOS, Mode: osprofile.Install, InstallDev: "/dev/vda", Rootfs: "http://mirror.example/rootfs.img"},
		{Kind: osprofile.Flatcar, Mode: osprofile.Live, Autologin: true, LegacyConfigURL: true, Console: []string{"tty0", "ttyS0"}},
		{Kind: osprofile.ContainerLinux, Mode: osprofile.Live, Autologin: true},
		{Kind: osprofile.Generic, Mode: osprofile.Live, Extra: "rd.shell=0 initrd=x"},
	} {
		args, err := osprofile.Args(o)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(o, osprofile.FromArgs(o.Kind, args)); diff != "" {
			t.Errorf("FromArgs(%q) (-want +got):\n%s", args, diff)
		}
	}
	// The seeded first-time line: OS arguments are dropped, consoles kept.
	got := osprofile.FromArgs(osprofile.Flatcar, "console=tty0 console=ttyS0 ignition.firstboot ignition.platform.id=metal ignition.config.url={{.IgnitionURL}}")
	if diff := cmp.Diff(osprofile.Options{Kind: osprofile.Flatcar, Mode: osprofile.Live, Console: []string{"tty0", "ttyS0"}}, got); diff != "" {
		t.Errorf("first-time line (-want +got):\n%s", diff)
	}
}

func TestCheckStreamAndArch(t *testing.T) {
	for _, tc := range []struct {
		kind   osprofile.Kind
		stream string
		ok     bool
	}{
		{osprofile.FedoraCoreOS, "stable", true}, {osprofile.FedoraCoreOS, "next", true}, {osprofile.FedoraCoreOS, "beta", false},
		{osprofile.Flatcar, "beta", true}, {osprofile.Flatcar, "lts", true}, {osprofile.Flatcar, "testing", false},
		{osprofile.Generic, "stable", false},
	} {
		if err := osprofile.CheckStream(tc.kind, tc.stream); (err == nil) != tc.ok {
			t.Errorf("CheckStream(%s, %s) = %v", tc.kind, tc.stream, err)
		}
	}
	for in, want := range map[string]string{"amd64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64", "mips": ""} {
		if got, _ := osprofile.NormalizeArch(in); got != want {
			t.Errorf("NormalizeArch(%s) = %q, want %q", in, got, want)
		}
	}
}
