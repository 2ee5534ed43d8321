//go:build linux && (amd64 || arm64)

package textpages

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const sample = `00400000-00403000 r--p 00000000 fd:01 1234                               /opt/pixie/bin/pixie
Size:                 12 kB
Rss:                  12 kB
Anonymous:             0 kB
VmFlags: rd mr mw me dw sd
00403000-00d8c000 r-xp 00003000 fd:01 1234                               /opt/pixie/bin/pixie
Size:               9764 kB
Rss:                8804 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me dw sd
01671000-01674000 r--p 01270000 fd:01 1234                               /opt/pixie/bin/pixie
Rss:                  12 kB
Anonymous:            12 kB
01674000-0170f000 rw-p 01273000 fd:01 1234                               /opt/pixie/bin/pixie
Rss:                 376 kB
Anonymous:           300 kB
7fa5c5203000-7fa5c5359000 r-xp 00028000 fd:01 99                         /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                1112 kB
Anonymous:             0 kB
7fa570000000-7fa570060000 rw-p 00000000 00:00 0 
Rss:                 316 kB
Anonymous:           316 kB
7fa57c426000-7fa57c49a000 r-xs 00000000 fd:01 77                         /opt/pixie/bin/pixie
Rss:                   8 kB
Anonymous:             0 kB
`

func TestParseSmaps(t *testing.T) {
	got, err := parseSmaps(strings.NewReader(sample), "/opt/pixie/bin/pixie")
	if err != nil {
		t.Fatal(err)
	}
	// The header and the code; not the relocated read-only data (private
	// copies), not the writable data, not another file, not anonymous
	// memory, not a shared mapping.
	want := []mapping{
		{start: 0x400000, end: 0x403000, rss: 12 << 10},
		{start: 0x403000, end: 0xd8c000, rss: 8804 << 10},
	}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(mapping{})); d != "" {
		t.Errorf("releasable mappings (-want +got):\n%s", d)
	}
}

func TestParseSmapsRefusesGarbage(t *testing.T) {
	for _, in := range []string{
		"zzzz-0040 r--p 0 fd:01 1 /x\n",
		"00400000 r--p 0 fd:01 1 /x\n",
		"00400000-00403000 r--p\n",
		"00400000-00403000 r--p 0 fd:01 1 /x\nRss: lots kB\n",
	} {
		if _, err := parseSmaps(strings.NewReader(in), "/x"); err == nil {
			t.Errorf("parseSmaps(%q): no error", in)
		}
	}
}

// rssFile is the resident bytes of the test binary's own file mappings.
func rssFile(t *testing.T) int64 {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ms, err := parseSmaps(f, exe)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, m := range ms {
		n += m.rss
	}
	return n
}

// The real thing, on this process: its code and read-only data leave the
// resident set, and the process goes on running (the pages fault back in).
func TestReleaseOwnExecutable(t *testing.T) {
	before := rssFile(t)
	if before == 0 {
		t.Fatal("the test binary has no resident read-only pages to start with")
	}
	released, err := Release()
	if err != nil {
		t.Fatal(err)
	}
	after := rssFile(t)
	if released < before/2 {
		t.Errorf("released %d bytes of %d resident", released, before)
	}
	// parseSmaps, the scanner and the formatting ran again between
	// Release and this read, faulting their pages back in.
	if after >= before/2 {
		t.Errorf("resident read-only pages of the executable: %d before, %d after the release", before, after)
	}
	// Code that was dropped runs again.
	if got := strings.Repeat("ab", 3); got != "ababab" {
		t.Fatalf("after the release: %q", got)
	}
	t.Logf("resident read-only pages of the test binary: %d kB → %d kB", before>>10, after>>10)
}
