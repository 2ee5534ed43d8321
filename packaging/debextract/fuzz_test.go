package main

import (
	"archive/tar"
	"bytes"
	"io"
	"strings"
	"testing"
)

// FuzzDataMember reads arbitrary bytes as a .deb's ar archive: a download
// may be anything (a captive portal's page, a truncated file), so the
// reader must refuse it in words and never panic or read past the input.
func FuzzDataMember(f *testing.F) {
	f.Add(arOf([2][]byte{[]byte("debian-binary"), []byte("2.0\n")}, [2][]byte{[]byte("data.tar"), []byte("x")}))
	f.Add(arOf([2][]byte{[]byte("control.tar.gz"), []byte("abc")}))
	f.Add([]byte("!<arch>\n"))
	f.Add([]byte("<html>captive portal</html>"))
	f.Fuzz(func(t *testing.T, b []byte) {
		name, r, err := dataMember(bytes.NewReader(b))
		if err != nil {
			return
		}
		if !strings.HasPrefix(name, "data.tar") {
			t.Fatalf("member %q taken for data.tar", name)
		}
		n, _ := io.Copy(io.Discard, r)
		if n > int64(len(b)) {
			t.Fatalf("read %d bytes from a %d-byte archive", n, len(b))
		}
	})
}

// FuzzPick reads arbitrary bytes as data.tar and resolves a wanted path
// through its links: link loops and links out of the package must end
// in an error, not a hang or a panic.
func FuzzPick(f *testing.F) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	tw.WriteHeader(&tar.Header{Name: "./usr/lib/ipxe/ipxe.efi", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3})
	tw.Write([]byte("efi"))
	tw.WriteHeader(&tar.Header{Name: "./boot/a", Typeflag: tar.TypeSymlink, Linkname: "b"})
	tw.WriteHeader(&tar.Header{Name: "./boot/b", Typeflag: tar.TypeSymlink, Linkname: "a"})
	tw.Close()
	f.Add(b.Bytes())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		want := []string{"usr/lib/ipxe/ipxe.efi", "boot/a"}
		out, err := pick(tar.NewReader(bytes.NewReader(data)), want)
		if err != nil {
			return
		}
		for _, w := range want {
			if _, ok := out[w]; !ok {
				t.Fatalf("no error but %s missing", w)
			}
		}
	})
}
