package firmware

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCleanName(t *testing.T) {
	ok := []struct{ in, want string }{
		{"undionly.kpxe", "undionly.kpxe"},
		{"/undionly.kpxe", "undionly.kpxe"}, // firmware's "root of the TFTP tree"
		{"ipxe-arm64.efi", "ipxe-arm64.efi"},
		{"my_build+2~rc.efi", "my_build+2~rc.efi"},
		{strings.Repeat("a", MaxNameLen), strings.Repeat("a", MaxNameLen)},
	}
	for _, tc := range ok {
		got, err := CleanName(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("CleanName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}

	bad := []struct{ in, reason string }{
		{"", "empty"},
		{"/", "empty"},
		{"..", "parent directory"},
		{"../ipxe.efi", "parent directory"},
		{"../../etc/passwd", "parent directory"},
		{"a/../../x", "parent directory"},
		{"/../ipxe.efi", "parent directory"},
		{"/etc/passwd", "directories are not served"}, // one "/" stripped: "etc/passwd"
		{"//etc/passwd", "absolute path"},
		{"qemu/pxe-virtio.rom", "directories are not served"},
		{"ipxe.efi/", "directories are not served"},
		{"\\windows\\system32\\config", "backslash"},
		{"..\\..\\boot.ini", "backslash"},
		{"ipxe.efi\x00../../etc/passwd", "NUL"},
		{"\x00", "NUL"},
		{".", "starts with a dot"},
		{"./ipxe.efi", "directories are not served"},
		{".hidden", "starts with a dot"},
		{"%2e%2e%2fetc%2fpasswd", `character '%'`},
		{"ipxe .efi", `character ' '`},
		{"ipxe\n.efi", "byte 0x0a"},
		{"ipx\u00e9.efi", "byte 0xc3"},
		{strings.Repeat("a", MaxNameLen+1), "too long"},
		{strings.Repeat("../", 200) + "etc/passwd", "too long"},
	}
	for _, tc := range bad {
		got, err := CleanName(tc.in)
		var re *RefusedError
		if !errors.As(err, &re) || !errors.Is(err, ErrRefused) {
			t.Errorf("CleanName(%q) = %q, %v; want a RefusedError", tc.in, got, err)
			continue
		}
		if re.Name != tc.in || !strings.Contains(re.Reason, tc.reason) {
			t.Errorf("CleanName(%q): refused %q for %q; want reason containing %q", tc.in, re.Name, re.Reason, tc.reason)
		}
		if len(err.Error()) > 200 {
			t.Errorf("CleanName(%q): error message is %d bytes; hostile names must be cut short", tc.in, len(err.Error()))
		}
	}
}

// layout is a test firmware tree: a data dir, an embedded set, two OS
// package directories (Debian-like and Fedora-like) and a secret file
// outside all of them.
type layout struct {
	dataDir, debian, fedora, outside, usrLib string
	set                                      *Set
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func newLayout(t *testing.T) layout {
	t.Helper()
	base := t.TempDir()
	l := layout{
		dataDir: filepath.Join(base, "data"),
		debian:  filepath.Join(base, "usr-lib-ipxe"),
		fedora:  filepath.Join(base, "usr-share-ipxe"),
		outside: filepath.Join(base, "outside"),
		usrLib:  filepath.Join(base, "usr-lib"),
	}
	fw := OverrideDir(l.dataDir)
	write(t, filepath.Join(l.outside, "secret"), "SECRET")
	write(t, filepath.Join(l.outside, "boot", "ipxe.efi"), "debian /boot ipxe.efi")

	write(t, filepath.Join(fw, "ipxe.efi"), "data-dir ipxe.efi")
	write(t, filepath.Join(fw, "custom.efi"), "data-dir custom.efi")
	symlink(t, "custom.efi", filepath.Join(fw, "alias.efi"))                           // inside: followed
	symlink(t, "../../outside/secret", filepath.Join(fw, "escape.efi"))                // relative, escapes
	symlink(t, filepath.Join(l.outside, "secret"), filepath.Join(fw, "abs.efi"))       // absolute, escapes
	symlink(t, filepath.Join(l.outside, "secret"), filepath.Join(fw, "ipxe-i386.efi")) // escapes, shadows the OS copy
	symlink(t, filepath.Join(fw, "custom.efi"), filepath.Join(fw, "abs-inside.efi"))   // absolute, even if inside
	symlink(t, "missing.efi", filepath.Join(fw, "dangling.efi"))                       // dangling: not found
	symlink(t, "../../outside", filepath.Join(fw, "outdir"))                           // a directory outside
	if err := os.Mkdir(filepath.Join(fw, "dir.efi"), 0o755); err != nil {
		t.Fatal(err)
	}

	// Debian: ipxe.efi is an absolute symlink into /boot; the qemu ROMs
	// and other files are not firmware for PXE clients.
	write(t, filepath.Join(l.debian, "undionly.kpxe"), "debian undionly.kpxe")
	write(t, filepath.Join(l.debian, "snponly.efi"), "debian snponly.efi")
	write(t, filepath.Join(l.debian, "ipxe-i386.efi"), "debian ipxe-i386.efi")
	write(t, filepath.Join(l.debian, "ipxe.iso"), "debian ipxe.iso")
	write(t, filepath.Join(l.debian, "qemu", "pxe-virtio.rom"), "rom")
	symlink(t, filepath.Join(l.outside, "boot", "ipxe.efi"), filepath.Join(l.debian, "ipxe.efi"))
	symlink(t, "qemu/pxe-virtio.rom", filepath.Join(l.debian, "virtio-net.rom"))

	// Fedora names.
	write(t, filepath.Join(l.fedora, "undionly.kpxe"), "fedora undionly.kpxe")
	write(t, filepath.Join(l.fedora, "ipxe-snponly-x86_64.efi"), "fedora snponly")
	write(t, filepath.Join(l.fedora, "arm64-efi", "ipxe.efi"), "fedora arm64")

	// Debian's shim-signed and grub-efi-amd64-signed; an ipxe.efi here
	// is not served, since this is a loader directory.
	write(t, filepath.Join(l.usrLib, "shim", "shimx64.efi.signed"), "debian shim")
	write(t, filepath.Join(l.usrLib, "grub", "x86_64-efi-signed", "grubnetx64.efi.signed"), "debian grubnet")
	write(t, filepath.Join(l.usrLib, "grub", "x86_64-efi-signed", "grubx64.efi.signed"), "debian disk grub")
	write(t, filepath.Join(l.usrLib, "ipxe.efi"), "not a loader")
	write(t, filepath.Join(fw, "grubaa64.efi"), "data-dir grubaa64")

	embedded := fstest.MapFS{
		"ipxe.efi":       {Data: []byte("embedded ipxe.efi")},
		"snponly.efi":    {Data: []byte("embedded snponly.efi")},
		"embedded.efi":   {Data: []byte("embedded extra")},
		"notregular.efi": {Mode: fs.ModeDir},
	}
	l.set = NewFrom(Dirs{
		DataDir:    l.dataDir,
		OSDirs:     []string{l.debian, filepath.Join(base, "absent"), l.fedora},
		LoaderDirs: []string{l.usrLib},
	}, embedded)
	return l
}

func readAll(t *testing.T, f *File) string {
	t.Helper()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOpenPrecedence(t *testing.T) {
	l := newLayout(t)
	tests := []struct {
		name, content, source, path string
	}{
		{"ipxe.efi", "data-dir ipxe.efi", SourceDataDir, filepath.Join(l.dataDir, "firmware", "ipxe.efi")},
		{"/ipxe.efi", "data-dir ipxe.efi", SourceDataDir, filepath.Join(l.dataDir, "firmware", "ipxe.efi")},
		{"custom.efi", "data-dir custom.efi", SourceDataDir, filepath.Join(l.dataDir, "firmware", "custom.efi")},
		{"alias.efi", "data-dir custom.efi", SourceDataDir, filepath.Join(l.dataDir, "firmware", "alias.efi")},
		{"snponly.efi", "embedded snponly.efi", SourceEmbedded, ""},
		{"embedded.efi", "embedded extra", SourceEmbedded, ""},
		{"undionly.kpxe", "debian undionly.kpxe", l.debian, filepath.Join(l.debian, "undionly.kpxe")},
		{"ipxe-arm64.efi", "fedora arm64", l.fedora, filepath.Join(l.fedora, "arm64-efi", "ipxe.efi")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := l.set.Open(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if got := readAll(t, f); got != tc.content {
				t.Errorf("content %q, want %q", got, tc.content)
			}
			if f.Source() != tc.source || f.Path() != tc.path || f.Size() != int64(len(tc.content)) {
				t.Errorf("source %q path %q size %d; want %q %q %d", f.Source(), f.Path(), f.Size(), tc.source, tc.path, len(tc.content))
			}
			if want, _ := CleanName(tc.name); f.Name() != want {
				t.Errorf("Name() = %q, want %q", f.Name(), want)
			}
			if !l.set.Has(tc.name) {
				t.Errorf("Has(%q) = false", tc.name)
			}
		})
	}
}

func TestOSDirFollowsPackageSymlinks(t *testing.T) {
	l := newLayout(t)
	// Without the override and embedded sources, Debian's ipxe.efi (a
	// symlink to /boot) is what is served.
	s := New("", nil, []string{l.debian, l.fedora})
	f, err := s.Open("ipxe.efi")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := readAll(t, f); got != "debian /boot ipxe.efi" || f.Source() != l.debian {
		t.Errorf("got %q from %q", got, f.Source())
	}
	// Fedora's snponly name, when Debian's directory lacks it.
	s = New("", nil, []string{l.fedora})
	f2, err := s.Open("snponly.efi")
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	if got := readAll(t, f2); got != "fedora snponly" {
		t.Errorf("got %q", got)
	}
}

func TestOpenRefusedAndNotFound(t *testing.T) {
	l := newLayout(t)
	if runtime.GOOS != "windows" {
		if err := syscall.Mkfifo(filepath.Join(l.dataDir, "firmware", "fifo.efi"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		want   error
		reason string
	}{
		{"../../outside/secret", ErrRefused, "parent directory"},
		{"../firmware/ipxe.efi", ErrRefused, "parent directory"},
		{"a/../../x", ErrRefused, "parent directory"},
		{"/etc/passwd", ErrRefused, "directories"},
		{"//etc/passwd", ErrRefused, "absolute"},
		{"outdir/secret", ErrRefused, "directories"},
		{"\\windows\\win.ini", ErrRefused, "backslash"},
		{"ipxe.efi\x00", ErrRefused, "NUL"},
		{"", ErrRefused, "empty"},
		{"escape.efi", ErrRefused, "symlink leads outside"},
		{"abs.efi", ErrRefused, "symlink leads outside"},
		{"abs-inside.efi", ErrRefused, "symlink leads outside"},
		// An escaping override shadows the OS copy: refused, not served
		// from the next source, so the broken override gets noticed.
		{"ipxe-i386.efi", ErrRefused, "symlink leads outside"},
		{"outdir", ErrRefused, "symlink leads outside"},
		{"dir.efi", ErrRefused, "not a regular file"},
		{"fifo.efi", ErrRefused, "not a regular file"},
		{"notregular.efi", ErrRefused, "not a regular file"},
		{"dangling.efi", ErrNotFound, ""},
		{"nothing.efi", ErrNotFound, ""},
		{"secret", ErrNotFound, ""},
		// OS package directories serve only known firmware.
		{"ipxe.iso", ErrNotFound, ""},
		{"virtio-net.rom", ErrNotFound, ""},
		{"ipxe-x86_64.efi", ErrNotFound, ""}, // Fedora's name is served as ipxe.efi only
	}
	for _, tc := range tests {
		t.Run(strings.ToValidUTF8(tc.name, "?"), func(t *testing.T) {
			f, err := l.set.Open(tc.name)
			if err == nil {
				f.Close()
				t.Fatalf("Open(%q) succeeded, serving %q from %s", tc.name, f.Path(), f.Source())
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open(%q) = %v; want %v", tc.name, err, tc.want)
			}
			if tc.want == ErrRefused {
				var re *RefusedError
				if !errors.As(err, &re) || re.Name != tc.name || !strings.Contains(re.Reason, tc.reason) {
					t.Errorf("Open(%q) = %#v; want reason containing %q", tc.name, err, tc.reason)
				}
			}
			if l.set.Has(tc.name) {
				t.Errorf("Has(%q) = true", tc.name)
			}
			if r, err := l.set.OpenReader(tc.name); r != nil || err == nil {
				t.Errorf("OpenReader(%q) = %v, %v; want nil reader and an error", tc.name, r, err)
			}
		})
	}
}

func TestReport(t *testing.T) {
	l := newLayout(t)
	fw := OverrideDir(l.dataDir)
	got := l.set.Report()
	want := []ArchReport{
		{Arch: ArchBIOS, Files: []FileStatus{
			{Name: "undionly.kpxe", Kind: KindIPXE, Found: true, Source: l.debian, Path: filepath.Join(l.debian, "undionly.kpxe"), Size: 20},
		}},
		{Arch: ArchEFIx64, Files: []FileStatus{
			{Name: "ipxe.efi", Kind: KindIPXE, Found: true, Source: SourceDataDir, Path: filepath.Join(fw, "ipxe.efi"), Size: 17},
			{Name: "snponly.efi", Kind: KindIPXE, Found: true, Source: SourceEmbedded, Size: 20},
			{Name: "shimx64.efi", Kind: KindShim, Found: true, Source: l.usrLib, Path: filepath.Join(l.usrLib, "shim", "shimx64.efi.signed"), Size: 11},
			{Name: "grubx64.efi", Kind: KindGRUB, Found: true, Source: l.usrLib, Path: filepath.Join(l.usrLib, "grub", "x86_64-efi-signed", "grubnetx64.efi.signed"), Size: 14},
		}},
		{Arch: ArchEFIIA32, Files: []FileStatus{
			{Name: "ipxe-i386.efi", Kind: KindIPXE, Problem: `firmware name "ipxe-i386.efi" refused: symlink leads outside the firmware directory (data-dir ` + fw + ")"},
		}},
		{Arch: ArchEFIARM64, Files: []FileStatus{
			{Name: "ipxe-arm64.efi", Kind: KindIPXE, Found: true, Source: l.fedora, Path: filepath.Join(l.fedora, "arm64-efi", "ipxe.efi"), Size: 12},
			{Name: "shimaa64.efi", Kind: KindShim},
			{Name: "grubaa64.efi", Kind: KindGRUB, Found: true, Source: SourceDataDir, Path: filepath.Join(fw, "grubaa64.efi"), Size: 17},
		}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Report() mismatch (-want +got):\n%s", diff)
	}
	if got[2].Ready() || !got[1].Ready() {
		t.Errorf("Ready: ia32 %v, x64 %v", got[2].Ready(), got[1].Ready())
	}

	// Nothing anywhere: everything missing.
	empty := NewFrom(Dirs{DataDir: t.TempDir(), OSDirs: []string{filepath.Join(t.TempDir(), "none")}}, fstest.MapFS{})
	for _, r := range empty.Report() {
		if r.Ready() || len(r.Missing()) != len(r.Files) || len(r.Found()) != 0 {
			t.Errorf("empty set: %+v", r)
		}
		if !strings.HasSuffix(r.String(), ": nothing to serve; missing "+strings.Join(r.Missing(), ", ")) {
			t.Errorf("empty set: String() = %q", r.String())
		}
	}
}

func TestArchReportString(t *testing.T) {
	r := ArchReport{Arch: ArchEFIx64, Files: []FileStatus{
		{Name: "ipxe.efi", Found: true, Source: "/usr/lib/ipxe", Size: 850528},
		{Name: "snponly.efi", Problem: "permission denied"},
	}}
	want := "efi-x64: ipxe.efi (/usr/lib/ipxe, 850528 bytes); missing snponly.efi (permission denied)"
	if got := r.String(); got != want {
		t.Errorf("String() = %q\nwant       %q", got, want)
	}
	if diff := cmp.Diff([]string{"snponly.efi"}, r.Missing()); diff != "" {
		t.Error(diff)
	}
}

func TestSources(t *testing.T) {
	s := New("/var/lib/pixie", fstest.MapFS{}, DefaultOSDirs())
	want := []string{"data-dir /var/lib/pixie/firmware", "embedded", "/usr/lib/ipxe", "/usr/share/ipxe", "/usr/lib"}
	if diff := cmp.Diff(want, s.Sources()); diff != "" {
		t.Error(diff)
	}
	if got := NewFrom(Dirs{}, nil).Sources(); len(got) != 0 {
		t.Errorf("no sources: %q", got)
	}
}

func TestKnownAndArchOf(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range Known() {
		if seen[k.Name] {
			t.Errorf("%s listed twice", k.Name)
		}
		seen[k.Name] = true
		if clean, err := CleanName(k.Name); err != nil || clean != k.Name {
			t.Errorf("known name %q does not pass CleanName: %v", k.Name, err)
		}
		if a, ok := ArchOf(k.Name); !ok || a != k.Arch {
			t.Errorf("ArchOf(%q) = %q, %v", k.Name, a, ok)
		}
	}
	if _, ok := ArchOf("custom.efi"); ok {
		t.Error("ArchOf(custom.efi) is known")
	}
	// Known returns a fresh slice: changing it changes nothing.
	Known()[0].Name = "changed"
	if Known()[0].Name == "changed" {
		t.Error("Known shares its slice")
	}
}

// noSeekFS serves files that cannot seek, like some fs.FS implementations.
type noSeekFS struct{ fstest.MapFS }

type noSeekFile struct{ fs.File }

func (n noSeekFS) Open(name string) (fs.File, error) {
	f, err := n.MapFS.Open(name)
	if err != nil {
		return nil, err
	}
	return noSeekFile{f}, nil
}

func TestEmbeddedWithoutSeek(t *testing.T) {
	s := New("", noSeekFS{fstest.MapFS{"ipxe.efi": {Data: []byte("0123456789")}}}, nil)
	f, err := s.Open("ipxe.efi")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(4, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, f); got != "456789" || f.Size() != 10 {
		t.Errorf("got %q size %d", got, f.Size())
	}
}

func TestEmbeddedDirFSSymlinkRefused(t *testing.T) {
	// os.DirFS follows symlinks anywhere; the embedded source refuses them.
	dir, outside := t.TempDir(), t.TempDir()
	write(t, filepath.Join(outside, "secret"), "SECRET")
	write(t, filepath.Join(dir, "ipxe.efi"), "ok")
	symlink(t, filepath.Join(outside, "secret"), filepath.Join(dir, "snponly.efi"))
	s := New("", os.DirFS(dir), nil)
	if !s.Has("ipxe.efi") {
		t.Error("ipxe.efi not served")
	}
	if _, err := s.Open("snponly.efi"); !errors.Is(err, ErrRefused) {
		t.Errorf("symlink in embedded dir: %v; want refused", err)
	}
}

func TestOpenedFileOutlivesRoot(t *testing.T) {
	// rootSource closes its os.Root before the caller reads the file.
	l := newLayout(t)
	f, err := l.set.Open("custom.efi")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(5, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, f); got != "dir custom.efi" {
		t.Errorf("got %q", got)
	}
}

func TestFilesAddedWhileRunning(t *testing.T) {
	dataDir := t.TempDir() // no firmware/ yet
	s := New(dataDir, nil, nil)
	if s.Has("ipxe.efi") {
		t.Fatal("found a file that does not exist")
	}
	write(t, filepath.Join(OverrideDir(dataDir), "ipxe.efi"), "new")
	if !s.Has("ipxe.efi") {
		t.Error("file added after New is not seen")
	}
}

// TestRealOSPackage serves Debian's ipxe.efi when the ipxe package is
// installed: through its absolute symlink to /boot.
func TestRealOSPackage(t *testing.T) {
	if _, err := os.Stat("/usr/lib/ipxe/ipxe.efi"); err != nil {
		t.Skip("Debian's ipxe package is not installed (/usr/lib/ipxe/ipxe.efi):", err)
	}
	s := New("", nil, DefaultOSDirs())
	f, err := s.Open("/ipxe.efi")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := make([]byte, 2)
	if _, err := io.ReadFull(f, head); err != nil || string(head) != "MZ" || f.Size() < 100<<10 {
		t.Errorf("ipxe.efi from %s: header %q size %d err %v", f.Path(), head, f.Size(), err)
	}
	if f.Source() != "/usr/lib/ipxe" {
		t.Errorf("source %q", f.Source())
	}
	for _, r := range s.Report() {
		t.Log(r)
	}
}

func TestHasRemembersBriefly(t *testing.T) {
	dataDir := t.TempDir()
	dir := OverrideDir(dataDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := New(dataDir, nil, nil)
	now := time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	if s.Has("undionly.kpxe") {
		t.Fatal("Has before the file exists")
	}
	if err := os.WriteFile(filepath.Join(dir, "undionly.kpxe"), []byte("rom"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !s.Has("undionly.kpxe") {
		t.Error("a file added is not seen at once")
	}
	os.Remove(filepath.Join(dir, "undionly.kpxe"))
	if !s.Has("undionly.kpxe") {
		t.Error("Has opened the file again within the TTL: nothing is remembered")
	}
	now = now.Add(hasTTL)
	if s.Has("undionly.kpxe") {
		t.Error("a file removed is still offered after the TTL")
	}
}
