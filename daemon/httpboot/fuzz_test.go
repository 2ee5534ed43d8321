package httpboot

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/store"
)

// The fuzz targets here judge scripts the way iPXE reads them (see
// inert.go): a script that gains a line, a command, a label or a goto
// target because of a value put into it has been injected into.

// ipxeSpace is the whitespace iPXE splits words at.
func ipxeSpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

// expandSettings replaces every ${...} with the empty string an unset
// setting gives, with the result iPXE's expand_settings has: it expands the
// last "${" before the first "}" and starts over, so a "${" can also form
// where an expansion joins a "$" to a "{". Done in one pass with a stack,
// since starting over is quadratic on the long inputs fuzzing makes.
func expandSettings(s string) string {
	var out []byte
	var starts []int // where each open "${" begins in out
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '{' && len(out) > 0 && out[len(out)-1] == '$':
			starts = append(starts, len(out)-1)
			out = append(out, c)
		case c == '}' && len(starts) > 0:
			out = out[:starts[len(starts)-1]]
			starts = starts[:len(starts)-1]
		default:
			out = append(out, c)
		}
	}
	return string(out)
}

// scriptShape is what iPXE would run: per logical line (after CR stripping
// and backslash continuations), its label, or its commands' names with the
// operators between them and goto targets. Arguments are left out: they
// are data. A NUL anywhere is reported, since iPXE would cut the line there.
func scriptShape(t *testing.T, script string) []string {
	t.Helper()
	if strings.Contains(script, "\x00") {
		t.Fatalf("script contains a NUL byte:\n%q", script)
	}
	var shape []string
	pending := ""
	lines := strings.Split(script, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for _, l := range lines {
		l = pending + strings.TrimSuffix(l, "\r")
		if strings.HasSuffix(l, `\`) {
			pending = strings.TrimSuffix(l, `\`)
			continue
		}
		pending = ""
		shape = append(shape, lineShape(l))
	}
	if pending != "" {
		shape = append(shape, lineShape(pending))
	}
	return shape
}

func lineShape(line string) string {
	if rest, ok := strings.CutPrefix(strings.TrimLeftFunc(line, ipxeSpace), ":"); ok {
		return ":" + rest
	}
	words := strings.FieldsFunc(expandSettings(line), ipxeSpace)
	var shape []string
	newCommand := true
	for i, w := range words {
		if strings.HasPrefix(w, "#") {
			break
		}
		if w == "||" || w == "&&" || w == ";" {
			shape = append(shape, w)
			newCommand = true
			continue
		}
		if newCommand {
			shape = append(shape, w)
			if w == "goto" && i+1 < len(words) {
				shape = append(shape, "goto:"+words[i+1])
			}
			newCommand = false
		}
	}
	return strings.Join(shape, " ")
}

// hostileSeeds are values that try every trick iPXE's parser offers.
func hostileSeeds() []string {
	return []string{
		"", "node1", "a\nshell", "a\r\nshell", "a\rshell", "${net0/mac}", "${", "$${x}}", "#!ipxe",
		":label", "\n:failed", "||", "&&", ";", "x || shell", "x && shell", "x ; shell", "x #", "#x",
		`"quoted"`, "'single'", "nul\x00byte", `back\`, "back\\\nshell", "a\tb\vc\fd", "\x7f\x1b[2J",
		"goto failed", "x\n#!ipxe\nshell", "ünïcödé", "\xff\xfe", strings.Repeat("A", 5000),
	}
}

// FuzzBootScript renders a machine's boot script with hostile values in
// every place one can come from: the machine's hostname and variables (the
// administrator's, through the control socket), the hostname iPXE reported
// (the query string: anyone's), the profile name and the reported
// architecture. The script must have exactly the commands a plain script
// has; a refused render becomes an error script, which must be plain too.
func FuzzBootScript(f *testing.F) {
	for _, s := range hostileSeeds() {
		f.Add(s, s, s, s, s, false)
		f.Add("", s, "node1", "p", "x86_64", true)
		f.Add("node1", "", s, "p", s, false)
	}
	const args = "console=ttyS0 hostname={{.Hostname}} v={{.Vars.v}} {{.Vars.v}} profile={{.Profile}} ignition.config.url={{.IgnitionURL}}"
	plan := func(machineHost, v, profile string, def bool) store.BootPlan {
		return store.BootPlan{
			Default: def,
			Machine: store.Machine{Hostname: machineHost, Vars: map[string]string{"v": v}},
			Profile: store.Profile{Name: profile, Kernel: "fcos/vmlinuz", Initrds: []string{"fcos/initramfs.img", "https://mirror.example/rootfs.img"}, Args: args},
		}
	}
	req := func(reported, arch string) Request {
		return Request{ServerURL: "http://10.0.0.2:8080", MAC: "52:54:00:12:34:56", IP: "10.0.0.50", Hostname: reported, Arch: arch, Platform: "efi"}
	}
	f.Fuzz(func(t *testing.T, machineHost, v, reported, profile, arch string, def bool) {
		benign, err := BootScript(plan("node1", "v1", "p1", def), req("node2", "x86_64"), 30)
		if err != nil {
			t.Fatal(err)
		}
		want := scriptShape(t, benign)

		got, err := BootScript(plan(machineHost, v, profile, def), req(reported, arch), 30)
		if err != nil {
			// What the server then sends: the error script (see fail).
			if err.Error() == "" {
				t.Fatal("refused without saying why")
			}
			lines := []string{"cannot boot 52:54:00:12:34:56: " + err.Error(), "fix the profile on the server: `pixie profiles edit " + profile + " --args ...`"}
			got = ErrorScript("http://10.0.0.2:8080", lines, 30)
			want = scriptShape(t, ErrorScript("http://10.0.0.2:8080", []string{"a", "b"}, 30))
		}
		if gotShape := scriptShape(t, got); !equalShapes(gotShape, want) {
			t.Fatalf("script injected:\n got %q\nwant %q\nscript:\n%s", gotShape, want, got)
		}
		for _, l := range strings.Split(got, "\n") {
			if strings.HasPrefix(l, "echo ") && strings.Contains(l, "${") {
				t.Fatalf("echo line expands a setting: %q", l)
			}
		}
	})
}

func equalShapes(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// planner is a Planner that boots every MAC with one plan.
type planner struct{ plan store.BootPlan }

func (p planner) PlanBoot(_ context.Context, mac string) (store.BootPlan, error) {
	plan := p.plan
	plan.Machine.MAC = mac
	return plan, nil
}

type noEvents struct{}

func (noEvents) Record(context.Context, events.Event) {}

// scriptCommands matches the only command shapes pixie's scripts contain.
func scriptCommands() *regexp.Regexp {
	return regexp.MustCompile(`^(|echo|sleep|kernel \|\| goto goto:failed|initrd \|\| goto goto:failed|boot \|\| goto goto:failed|chain \|\| goto goto:(failed|retry)|chain|:failed|:retry|exit)$`)
}

// FuzzMachineScriptQuery sends arbitrary query strings to /ipxe, as anyone
// on the LAN can: the MAC, hostname, uuid, arch and platform iPXE would
// fill in. Whatever comes back is a script made only of pixie's own
// commands, and any MAC its URLs carry is canonical.
func FuzzMachineScriptQuery(f *testing.F) {
	for _, q := range []string{
		"mac=52-54-00-12-34-56&uuid=x&arch=x86_64&platform=efi&hostname=node1",
		"mac=52:54:00:12:34:56&hostname=a%0Ashell",
		"mac=52-54-00-12-34-56&hostname=x%20%26%26%20shell%20%23",
		"mac=x%20%26%26%20shell%20%23",
		"mac=%0Ashell%0A",
		"mac=${net0/mac}",
		"mac=52-54-00-12-34-56&arch=%0Ashell&platform=%3Bx",
		"mac=52-54-00-12-34-56&hostname=%00",
		"mac=%5C", "mac=", "", "%zz", "mac=52-54-00-12-34-56&mac=x",
	} {
		f.Add(q)
	}
	srv := New(Config{ServerURL: func() string { return "http://10.0.0.2:8080" }, RetryDelay: 30e9}, Deps{
		Log: slog.New(slog.DiscardHandler),
		Store: planner{store.BootPlan{Profile: store.Profile{
			Name: "p", Kernel: "http://mirror.example/vmlinuz", Initrds: []string{"http://mirror.example/initrd.img"},
			Args: "hostname={{.Hostname}} ignition.config.url={{.IgnitionURL}}",
		}}},
		Events:   noEvents{},
		Counters: events.NewCounters(),
	})
	h := srv.Handler()
	macRE := regexp.MustCompile(`[?&]mac=([^&\s]*)`)
	canonical := regexp.MustCompile(`^([0-9a-f]{2}-){5}[0-9a-f]{2}$`)
	commands := scriptCommands()
	f.Fuzz(func(t *testing.T, rawQuery string) {
		r := &http.Request{Method: "GET", URL: &url.URL{Path: "/ipxe", RawQuery: rawQuery}, Header: http.Header{}, RemoteAddr: "10.0.0.50:1234", Host: "10.0.0.2:8080"}
		r = r.WithContext(context.Background())
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("status %d for %q", w.Code, rawQuery)
		}
		script := w.Body.String()
		if !strings.HasPrefix(script, "#!ipxe\n") {
			t.Fatalf("not a script: %q", script)
		}
		for _, s := range scriptShape(t, script) {
			if !commands.MatchString(s) {
				t.Fatalf("query %q: script runs %q:\n%s", rawQuery, s, script)
			}
		}
		for _, line := range strings.Split(script, "\n") {
			if strings.HasPrefix(line, "echo ") {
				continue // shows the bad input back to the console, as data
			}
			for _, m := range macRE.FindAllStringSubmatch(line, -1) {
				if !canonical.MatchString(m[1]) {
					t.Fatalf("query %q: script URL carries MAC %q", rawQuery, m[1])
				}
			}
		}
	})
}

// FuzzAssetPath asks the asset route for arbitrary paths. The store is a
// directory with a secret file beside it and a symlink out: no path may
// reach the secret, and a path answered 200 names a file inside the store.
func FuzzAssetPath(f *testing.F) {
	for _, p := range []string{
		"fcos/vmlinuz", "../secret", "%2e%2e/secret", "%2e%2e%2fsecret", "fcos/../../secret",
		"link", "up/secret", "..%5csecret", "%00", "/etc/passwd", "//secret", "fcos/%2e%2e/%2e%2e/secret",
		"fcos\\..\\..\\secret", strings.Repeat("a/", 100) + "x", "fcos/vmlinuz%00.png", ".", "fcos/",
	} {
		f.Add(p)
	}
	base := f.TempDir()
	assets := filepath.Join(base, "assets")
	secret := []byte("SECRET-NEXT-TO-THE-ASSET-STORE")
	if err := os.MkdirAll(filepath.Join(assets, "fcos"), 0o755); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(assets, "fcos", "vmlinuz"), []byte("kernel"), 0o644); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "secret"), secret, 0o600); err != nil {
		f.Fatal(err)
	}
	for link, target := range map[string]string{"link": filepath.Join(base, "secret"), "up": ".."} {
		if err := os.Symlink(target, filepath.Join(assets, link)); err != nil {
			f.Fatal(err)
		}
	}
	root, err := os.OpenRoot(assets)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { root.Close() })
	srv := New(Config{ServerURL: func() string { return "http://10.0.0.2:8080" }}, Deps{
		Log: slog.New(slog.DiscardHandler), Assets: root, Events: noEvents{}, Counters: events.NewCounters(),
	})
	h := srv.Handler()
	f.Fuzz(func(t *testing.T, p string) {
		u, err := url.Parse("/assets/" + p)
		if err != nil {
			return // no client can send it
		}
		r := httptest.NewRequest("GET", "http://10.0.0.2:8080/", nil)
		r.URL = u
		r.RequestURI = u.RequestURI()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		body, _ := io.ReadAll(w.Body)
		if bytes.Contains(body, secret) {
			t.Fatalf("path %q served the secret", p)
		}
		if w.Code == http.StatusOK && string(body) != "kernel" {
			t.Fatalf("path %q answered 200 with %q", p, body)
		}
	})
}

func TestExpandSettings(t *testing.T) {
	for in, want := range map[string]string{
		"a${x}b":         "ab",
		"a${x${y}}b":     "ab",
		"$${x}{y}":       "",
		"${":             "${",
		"}${x":           "}${x",
		"a${x}&&${y} b":  "a&& b",
		"${}${}}":        "}",
		"x$${a}{b}}c${d": "x}c${d", // worked through by hand from expand_settings
	} {
		if got := expandSettings(in); got != want {
			t.Errorf("expandSettings(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestScriptShapeSeesInjection keeps the oracle honest: scripts injected
// the ways the fuzz targets look for must have a different shape from the
// plain one.
func TestScriptShapeSeesInjection(t *testing.T) {
	plain := scriptShape(t, "#!ipxe\necho pixie: hello\nkernel --name kernel http://x/k a=b || goto failed\n:failed\n")
	for _, injected := range []string{
		"#!ipxe\necho pixie: hello && shell\nkernel --name kernel http://x/k a=b || goto failed\n:failed\n",
		"#!ipxe\necho pixie: hello ; shell\nkernel --name kernel http://x/k a=b || goto failed\n:failed\n",
		"#!ipxe\necho pixie: hello\\\nkernel --name kernel http://x/k a=b || goto failed\n:failed\n",
		"#!ipxe\necho pixie: hello\nkernel --name kernel http://x/k a=b #|| goto failed\n:failed\n",
		"#!ipxe\necho pixie: hello\nkernel --name kernel http://x/k a=b || goto pwned\n:failed\n",
		"#!ipxe\necho pixie: hello\nkernel --name kernel http://x/k a=b ${x}&&${x} shell || goto failed\n:failed\n",
		"#!ipxe\necho pixie: hello\n:x\nkernel --name kernel http://x/k a=b || goto failed\n:failed\n",
		"#!ipxe\necho pixie: hello\r\nshell\nkernel --name kernel http://x/k a=b || goto failed\n:failed\n",
	} {
		if got := scriptShape(t, injected); equalShapes(got, plain) {
			t.Errorf("shape %q of injected script equals the plain one:\n%s", got, injected)
		}
	}
}

// TestScriptInjection: regressions for the injections FuzzBootScript and
// FuzzMachineScriptQuery found. Each value used to add a command to the
// script pixie served.
func TestScriptInjection(t *testing.T) {
	const serverURL = "http://10.0.0.2:8080"
	plan := func(mod func(*store.BootPlan)) store.BootPlan {
		p := store.BootPlan{Profile: store.Profile{Name: "p", Kernel: "k", Args: "hostname={{.Hostname}} x={{.Vars.v}}"}, Machine: store.Machine{Vars: map[string]string{"v": "1"}}}
		mod(&p)
		return p
	}
	req := Request{ServerURL: serverURL, MAC: "52:54:00:12:34:56"}
	plain, err := BootScript(plan(func(*store.BootPlan) {}), req, 5)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		plan store.BootPlan
		req  Request
		err  string // the render is refused with this; "" renders the plain shape
	}{
		{"variable ends the kernel command", plan(func(p *store.BootPlan) { p.Machine.Vars["v"] = "1 && shell" }), req, `"&&" would be read by iPXE as script syntax`},
		{"variable runs a command regardless", plan(func(p *store.BootPlan) { p.Machine.Vars["v"] = "1 ; shell" }), req, `";" would be read`},
		{"variable comments out goto failed", plan(func(p *store.BootPlan) { p.Machine.Vars["v"] = "1 #" }), req, `"#" would be read`},
		{"NUL cuts the line", plan(func(p *store.BootPlan) { p.Machine.Vars["v"] = "1\x00" }), req, "control byte 0x00"},
		{"escape sequence", plan(func(p *store.BootPlan) { p.Machine.Vars["v"] = "\x1b[2J" }), req, "control byte 0x1b"},
		{"reported hostname is not trusted", plan(func(*store.BootPlan) {}), Request{ServerURL: serverURL, MAC: req.MAC, Hostname: "h || shell"}, ""},
		{"reported hostname with a newline", plan(func(*store.BootPlan) {}), Request{ServerURL: serverURL, MAC: req.MAC, Hostname: "h\n:failed"}, ""},
		{"profile name with a newline", plan(func(p *store.BootPlan) { p.Profile.Name = "p\nshell" }), req, ""},
		{"profile name with an operator", plan(func(p *store.BootPlan) { p.Profile.Name = "p && shell" }), req, ""},
		{"profile name ending in a backslash", plan(func(p *store.BootPlan) { p.Profile.Name = `p\` }), req, ""},
		{"kernel URL with a space", plan(func(p *store.BootPlan) { p.Profile.Kernel = "http://m/k || shell" }), req, "contains a space"},
		{"initrd URL with a newline", plan(func(p *store.BootPlan) { p.Profile.Initrds = []string{"http://m/i\nshell"} }), req, "control character"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := BootScript(tc.plan, tc.req, 5)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q; script:\n%s", err, tc.err, got)
				}
				// The error script the machine gets instead is plain too.
				got = ErrorScript(serverURL, []string{"cannot boot: " + err.Error()}, 5)
				if want := scriptShape(t, ErrorScript(serverURL, []string{"x"}, 5)); !equalShapes(scriptShape(t, got), want) {
					t.Fatalf("error script injected:\n%s", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !equalShapes(scriptShape(t, got), scriptShape(t, plain)) {
				t.Fatalf("script injected:\n%s", got)
			}
		})
	}

	// The MAC in the query reached the error script through the parse
	// error's message; with "&&" and a trailing "#" it ran a command.
	srv := New(Config{ServerURL: func() string { return serverURL }}, Deps{
		Log: slog.New(slog.DiscardHandler), Store: planner{}, Events: noEvents{}, Counters: events.NewCounters(),
	})
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/ipxe?mac=x%20%26%26%20shell%20%23", nil))
	for _, s := range scriptShape(t, w.Body.String()) {
		if strings.Contains(s, "shell") {
			t.Fatalf("bad-MAC script runs %q:\n%s", s, w.Body.String())
		}
	}
}

// TestChainScriptQuotesHostname: iPXE expands settings before it splits a
// line into commands, so the DHCP hostname it put raw into the chain URL
// could end the chain command ("x || shell #") or break the query ("&").
// The chain script asks iPXE to URI-encode it.
func TestChainScriptQuotesHostname(t *testing.T) {
	const hostile = "x || shell #&mac=00-00-00-00-00-00"
	script := chainScript("http://10.0.0.2:8080")
	// Expand the hostname the way iPXE would, raw or URI-encoded.
	expanded := strings.NewReplacer(
		"${hostname}", hostile,
		"${hostname:uristring}", strings.ReplaceAll(url.QueryEscape(hostile), "+", "%20"),
	).Replace(script)
	if got, want := scriptShape(t, expanded), scriptShape(t, script); !equalShapes(got, want) {
		t.Fatalf("a DHCP hostname changes the chain script: %q, want %q\n%s", got, want, expanded)
	}
	if strings.Count(expanded, "mac=") != 1 {
		t.Errorf("a DHCP hostname adds query parameters:\n%s", expanded)
	}
}
