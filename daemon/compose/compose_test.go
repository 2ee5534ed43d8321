package compose

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pixie-boot/pixie/daemon/api"
)

func pulled(t *testing.T, assets, osName, stream, arch, version string) {
	t.Helper()
	dir := filepath.Join(assets, osName, stream, arch, version)
	os.MkdirAll(dir, 0o755)
	rel := osName + "/" + stream + "/" + arch + "/" + version
	m, _ := json.Marshal(map[string]any{"os": osName, "stream": stream, "arch": arch, "version": version,
		"kernel": rel + "/kernel", "initramfs": []string{rel + "/initramfs.img"}, "rootfs": rel + "/rootfs.img", "pulled_at": "2025-01-01T00:00:00Z"})
	os.WriteFile(filepath.Join(dir, "pixie-image.json"), m, 0o644)
}

func TestMake(t *testing.T) {
	assets := t.TempDir()
	pulled(t, assets, "fedora-coreos", "stable", "x86_64", "43.1")
	for _, tc := range []struct {
		name    string
		req     api.OSProfileRequest
		kernel  string
		errKind error
		errHas  string
	}{
		{"fcos from the pulled image", api.OSProfileRequest{Profile: api.Profile{Name: "a", OS: "fedora-coreos"}}, "fedora-coreos/stable/x86_64/43.1/kernel", nil, ""},
		{"a stream not pulled", api.OSProfileRequest{Profile: api.Profile{Name: "a", OS: "fedora-coreos"}, Given: []string{"stream"}, Stream: "next"},
			"", ErrNotPulled, "run `pixie images pull fedora-coreos --stream next` first"},
		{"a channel for fcos", api.OSProfileRequest{Profile: api.Profile{Name: "a", OS: "fedora-coreos"}, Given: []string{"channel"}, Channel: "beta"},
			"", ErrInvalid, "--channel is for flatcar"},
		{"a private key", api.OSProfileRequest{Profile: api.Profile{Name: "a", OS: "fedora-coreos"}, SSHKeys: []string{"-----BEGIN OPENSSH PRIVATE KEY-----\n"}},
			"", ErrInvalid, "--ssh-key #1: give the public key"},
		{"generic without a kernel", api.OSProfileRequest{Profile: api.Profile{Name: "a", OS: "generic"}}, "", ErrInvalid, "give the kernel with --kernel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Make(tc.req, nil, assets)
			if tc.errKind != nil {
				if !errors.Is(err, tc.errKind) || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err %v, want %v containing %q", err, tc.errKind, tc.errHas)
				}
				return
			}
			if err != nil || res.Profile.Kernel != tc.kernel || !strings.Contains(res.Profile.Args, "coreos.live.rootfs_url={{.ServerURL}}/assets/fedora-coreos/stable/x86_64/43.1/rootfs.img") {
				t.Fatalf("%+v, %v", res, err)
			}
		})
	}
}
