package testnet

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// AddIsolated creates a namespace named after role with nothing but
// loopback: a program started there (a browser) can reach only what the
// test also starts there, and no packet of it leaves.
func (l *LAN) AddIsolated(role string) (string, error) { return l.addNamespace(role) }

// ChromiumBinary is Debian's chromium.
func ChromiumBinary() (string, error) {
	return firstFile("a browser (Debian package chromium)", "/usr/bin/chromium", "/usr/bin/chromium-browser")
}

// RequireChromium skips (or, with RequireEnv, fails) the test unless
// chromium is installed.
func RequireChromium(t testing.TB) {
	t.Helper()
	if _, err := ChromiumBinary(); err != nil {
		skipOrFail(t, "%v", err)
	}
}

// Browser starts headless chromium inside namespace ns (made with
// AddIsolated, so the browser reaches only loopback there) and returns a
// chromedp context for one tab. chromedp talks to the browser over its
// --remote-debugging-pipe, inherited file descriptors that `ip netns
// exec` passes on, so nothing listens for DevTools anywhere. The browser
// stops when the test ends.
func (l *LAN) Browser(t testing.TB, ns string, width, height int) context.Context {
	t.Helper()
	if !l.owns(ns) {
		t.Fatalf("testnet: namespace %q is not part of this LAN", ns)
	}
	bin, err := ChromiumBinary()
	if err != nil {
		skipOrFail(t, "%v", err)
	}
	ipBin, err := exec.LookPath("ip")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	wrapper := filepath.Join(dir, "chromium-in-"+ns)
	script := fmt.Sprintf("#!/bin/sh\nexec %s netns exec %s %s \"$@\"\n", ipBin, ns, bin)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(wrapper),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.WindowSize(width, height),
		chromedp.NoSandbox, // root in a test: chromium's sandbox refuses to run as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-pings", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	return ctx
}
