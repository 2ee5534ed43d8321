package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/importer/importtest"
)

// matchboxVersion is the matchbox the comparison runs: its own rules, not
// the import's reading of its docs, say what a machine gets.
const matchboxVersion = "v0.11.0"

// buildMatchbox builds matchbox from its module (through the Go module
// proxy, or the module cache) into a temporary directory. Without it the
// test skips, or fails under PIXIE_E2E_REQUIRE=1 as CI runs it.
func buildMatchbox(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	mod := "module matchboxbuild\n\ngo 1.26.0\n\nrequire github.com/poseidon/matchbox " + matchboxVersion + "\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "matchbox")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/poseidon/matchbox/cmd/matchbox")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		msg := fmt.Sprintf("cannot build matchbox %s to compare with (%v): %s", matchboxVersion, err, out)
		if os.Getenv("PIXIE_E2E_REQUIRE") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

// startMatchbox serves the tree with matchbox on a loopback port.
func startMatchbox(t *testing.T, bin, tree string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "-address", addr, "-data-path", tree, "-assets-path", filepath.Join(tree, "assets"), "-log-level", "warning")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	base := "http://" + addr
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/"); err == nil {
			resp.Body.Close()
			return base
		}
		if time.Now().After(deadline) {
			t.Fatalf("matchbox did not answer on %s", addr)
		}
	}
}

// kernelLine splits an iPXE script's kernel line into the kernel's base
// name and its arguments, and lists the initrds' base names.
func kernelLine(t *testing.T, script string) (string, []string, []string) {
	t.Helper()
	var kernel string
	var args, initrds []string
	for _, l := range strings.Split(script, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		if f[1] == "--name" && len(f) > 3 {
			f = append(f[:1], f[3:]...) // drop "--name NAME"
		}
		switch f[0] {
		case "kernel":
			u, _ := url.Parse(f[1])
			kernel, args = path.Base(u.Path), f[2:]
			if i := slices.Index(args, "||"); i >= 0 {
				args = args[:i]
			}
		case "initrd":
			u, _ := url.Parse(f[1])
			initrds = append(initrds, path.Base(u.Path))
		}
	}
	return kernel, args, initrds
}

// TestImportMatchesMatchbox serves the fixture tree with matchbox itself
// and, imported, with pixie, and compares what a machine gets from each:
// the kernel, initrds and arguments of its iPXE script and the files,
// users and units of its Ignition config, for node1 (its MAC-only group;
// the group with os=installed does not match a plain boot) and for a MAC
// no group names (the default group; matchbox cannot render its config,
// see below).
func TestImportMatchesMatchbox(t *testing.T) {
	if testing.Short() {
		t.Skip("builds matchbox: not with -short")
	}
	bin := buildMatchbox(t)
	dir := t.TempDir()
	tree := importtest.Matchbox()
	tree.Write(t, dir)
	mb := startMatchbox(t, bin, dir)

	d := startDaemon(t)
	mustPixie(t, d, "import", "matchbox", dir)
	px := bootServer(t, d)

	for _, tc := range []struct{ name, mac string }{{"node1", importtest.Node1MAC}, {"unknown", "52:54:00:00:00:01"}} {
		t.Run(tc.name, func(t *testing.T) {
			hyph := strings.ReplaceAll(tc.mac, ":", "-")
			mk, margs, minitrds := kernelLine(t, httpGet(t, mb+"/ipxe?mac="+tc.mac))
			pk, pargs, pinitrds := kernelLine(t, httpGet(t, px+"/ipxe?mac="+hyph))
			if mk != pk || !slices.Equal(minitrds, pinitrds) {
				t.Errorf("kernel %s initrds %q from matchbox, %s %q from pixie", mk, minitrds, pk, pinitrds)
			}
			// Each of matchbox's arguments has its counterpart in pixie's:
			// the same text, or (for URLs) the same key with pixie's URL.
			for _, a := range margs {
				key, val, _ := strings.Cut(a, "=")
				switch {
				case key == "initrd":
					if !slices.Contains(pargs, "initrd="+pinitrds[0]) {
						t.Errorf("pixie's arguments %q lack initrd=%s in place of %s", pargs, pinitrds[0], a)
					}
				case key == "ignition.config.url":
					if !slices.Contains(pargs, key+"="+px+"/ignition?mac="+hyph) {
						t.Errorf("pixie's arguments %q lack its own Ignition URL in place of %s", pargs, a)
					}
				case strings.HasPrefix(val, "http://"):
					u, _ := url.Parse(val)
					if !slices.ContainsFunc(pargs, func(p string) bool {
						return strings.HasPrefix(p, key+"="+px+"/assets/imported/matchbox/") && strings.Contains(p, path.Base(u.Path))
					}) {
						t.Errorf("pixie's arguments %q lack %s pointing at its copy of %s", pargs, key, path.Base(u.Path))
					}
				default:
					if !slices.Contains(pargs, a) {
						t.Errorf("pixie's arguments %q lack matchbox's %s", pargs, a)
					}
				}
			}
			// The config: matchbox's with the query pixie's own URL has.
			if tc.name == "unknown" {
				// matchbox's .mac is the group's selector, which a default
				// group has none of: its template fails there (404), while
				// pixie's .MAC is the booting machine's
				// (TestImportMatchbox checks what pixie serves).
				resp, err := http.Get(mb + "/ignition?mac=" + tc.mac)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusNotFound {
					t.Errorf("matchbox answered %s for a default group's template using .mac: its rules changed, compare the configs", resp.Status)
				}
				return
			}
			mfiles, musers, munits := ignitionFiles(t, httpGet(t, mb+"/ignition?mac="+tc.mac))
			pfiles, pusers, punits := ignitionFiles(t, httpGet(t, px+"/ignition?mac="+hyph))
			if fmt.Sprint(mfiles) != fmt.Sprint(pfiles) {
				t.Errorf("files: matchbox %q, pixie %q", mfiles, pfiles)
			}
			if fmt.Sprint(musers) != fmt.Sprint(pusers) {
				t.Errorf("users: matchbox %q, pixie %q", musers, pusers)
			}
			if !slices.Equal(munits, punits) {
				t.Errorf("units: matchbox %q, pixie %q", munits, punits)
			}
			if len(mfiles) == 0 || len(musers) == 0 {
				t.Errorf("matchbox served an empty config: %q %q", mfiles, musers)
			}
		})
	}
}
