package firmware

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

func TestFilesHoldsOnlyFirmware(t *testing.T) {
	fsys := Files()
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !isFirmware(e.Name()) {
			t.Errorf("Files() lists %q, which is not firmware", e.Name())
		}
		names = append(names, e.Name())
	}
	t.Logf("embedded firmware: %q", names)
	// TestFS checks Open, Stat, ReadDir (in pieces too) and reads every
	// file; with no names it checks the set is empty, as in a plain
	// checkout.
	if err := fstest.TestFS(fsys, names...); err != nil {
		t.Fatal(err)
	}
	for _, hidden := range []string{"README.md", "COPYING.ipxe", "embed.go", "fetch-debian-ipxe.sh", ".gitignore", "PROVENANCE.txt"} {
		if _, err := fs.Stat(fsys, hidden); err == nil {
			t.Errorf("Files() serves %s", hidden)
		}
	}
	for _, bad := range []string{"../firmware/embed.go", "/ipxe.efi", "a/../ipxe.efi"} {
		if _, err := fsys.Open(bad); err == nil {
			t.Errorf("Files().Open(%q) succeeded", bad)
		}
	}
	if len(names) > 0 && !strings.Contains(Provenance(), "sha256") {
		t.Errorf("firmware embedded without provenance: %q", names)
	}
}

func TestNotice(t *testing.T) {
	n := Notice()
	for _, want := range []string{"GNU General Public License", "version 2", "https://github.com/ipxe/ipxe"} {
		if !strings.Contains(n, want) {
			t.Errorf("notice lacks %q", want)
		}
	}
}
