package firmware

import (
	"errors"
	"io"
	"testing"
)

func TestLoaders(t *testing.T) {
	l := newLayout(t)
	for _, tc := range []struct {
		name, want string // want "" means not found
	}{
		{"shimx64.efi", "debian shim"},
		{"/grubx64.efi", "debian grubnet"}, // the network image, not the disk one
		{"grubaa64.efi", "data-dir grubaa64"},
		{"shimaa64.efi", ""},
		// A loader directory serves loaders only, under fixed names.
		{"grubx64.efi.signed", ""},
		{"shim", ""},
		{"grubnetx64.efi.signed", ""},
	} {
		f, err := l.set.Open(tc.name)
		if tc.want == "" {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("Open(%q) = %v, want not found", tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Open(%q): %v", tc.name, err)
			continue
		}
		b, _ := io.ReadAll(f)
		f.Close()
		if string(b) != tc.want {
			t.Errorf("Open(%q) read %q, want %q", tc.name, b, tc.want)
		}
	}
	// The ipxe.efi in the loader directory is never served: the
	// override's copy wins, and with no override the iPXE directories are
	// the only OS source for iPXE.
	only := NewFrom(Dirs{LoaderDirs: []string{l.usrLib}}, nil)
	if f, err := only.Open("ipxe.efi"); !errors.Is(err, ErrNotFound) {
		if f != nil {
			f.Close()
		}
		t.Errorf("ipxe.efi from a loader directory: %v, want not found", err)
	}
}

func TestKindAndOptional(t *testing.T) {
	for name, want := range map[string]Kind{
		"ipxe.efi": KindIPXE, "undionly.kpxe": KindIPXE, "shimx64.efi": KindShim,
		"shimaa64.efi": KindShim, "grubx64.efi": KindGRUB, "grubaa64.efi": KindGRUB,
	} {
		if got, ok := KindOf(name); !ok || got != want {
			t.Errorf("KindOf(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
	if _, ok := KindOf("grub.cfg"); ok {
		t.Error("KindOf(grub.cfg) is known")
	}
	for name, want := range map[string]bool{
		"revocations_sbat.efi": true, "/revocations_sku.efi": true, "revocations.efi": true,
		"shim_certificate_0.efi": true, "grubx64.efi": false, "revocations_sbat.cfg": false,
		"ipxe.efi": false, "": false,
	} {
		if got := Optional(name); got != want {
			t.Errorf("Optional(%q) = %v, want %v", name, got, want)
		}
	}
}
