package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pixie-boot/pixie/bench/storm"
	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/internal/testnet"
)

// artifactsDir is where a test saves what a person should look at
// (screenshots): $PIXIE_E2E_ARTIFACTS/<test>, else under the temp dir.
func artifactsDir(t *testing.T) string {
	t.Helper()
	base := os.Getenv("PIXIE_E2E_ARTIFACTS")
	if base == "" {
		base = filepath.Join(os.TempDir(), "pixie-e2e-artifacts")
	}
	dir := filepath.Join(base, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestDashboardInBrowser: Debian's chromium, headless, in a namespace of
// its own with only loopback, opens `pixie ui` (run beside it, against the
// real daemon's control socket) while a scripted PXE client boots on the
// LAN: the client's row appears and advances stage by stage without a
// reload, the pause switch pauses the daemon (as the CLI sees it), and a
// click shows the machine's timeline. Screenshots are saved.
func TestDashboardInBrowser(t *testing.T) {
	testnet.RequireRoot(t)
	testnet.RequireChromium(t)
	bin := pixieBinary(t)
	env := storm.Start(t, storm.Options{Pixie: bin})
	shots := artifactsDir(t)
	ns, err := env.LAN.AddIsolated("browser")
	if err != nil {
		t.Fatal(err)
	}
	ui, err := env.LAN.Start(ns, bin, "--socket", env.Socket, "ui", "--no-browser", "--listen", "127.0.0.1:8088")
	if err != nil {
		t.Fatal(err)
	}
	if err := ui.WaitLog("pixie dashboard: ", 10*time.Second); err != nil {
		t.Fatalf("pixie ui printed no link: %v\n%s", err, ui.Log())
	}
	link := regexp.MustCompile(`http://127\.0\.0\.1:8088/login\?token=\S+`).FindString(ui.Log())
	if link == "" {
		t.Fatalf("no login link in:\n%s", ui.Log())
	}

	ctx := env.LAN.Browser(t, ns, 1280, 860)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate(link)); err != nil {
		t.Fatalf("opening the login link: %v", err)
	}
	waitText := func(what, js, want string, timeout time.Duration) {
		t.Helper()
		var got string
		for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if got, err = chromedp.Run(ctx, chromedp.Evaluate[string](js)); err == nil && strings.Contains(got, want) {
				return
			}
		}
		t.Fatalf("%s: %q (err %v), want %q", what, got, err, want)
	}
	waitText("state pill", `document.getElementById("state").textContent`, "serving", 10*time.Second)
	timing, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		const paint = performance.getEntriesByType("paint").map(p => p.name + " " + p.startTime.toFixed(0) + " ms");
		const nav = performance.getEntriesByType("navigation")[0];
		const bytes = performance.getEntriesByType("resource").reduce((n, r) => n + r.transferSize, nav ? nav.transferSize : 0);
		return (paint.join(", ") || "no paint entries") + "; DOMContentLoaded " + (nav ? nav.domContentLoadedEventEnd.toFixed(0) : "?") + " ms; " + bytes + " bytes transferred";
	})()`))
	t.Logf("dashboard: signed in and serving shown %s after opening the link; %s", time.Since(start).Round(time.Millisecond), timing)
	screenshot(t, ctx, shots, "1-idle.png")
	// A mark that a reload would wipe.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.pixieTestMark = 7`)); err != nil {
		t.Fatal(err)
	}

	// One slow BIOS machine boots: a pause after each stage.
	cfg := env.Config(1, 0, 0)
	cfg.MACBase = [3]byte{0x02, 0x53, 0x77}
	cfg.Pace = 1500 * time.Millisecond
	const mac = "02:53:77:00:00:00"
	type outcome struct {
		rep *storm.Report
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		rep, err := storm.Run(ctx, cfg)
		done <- outcome{rep, err}
	}()
	doneSteps := fmt.Sprintf(`(() => { const r = document.querySelector('tr.boot[data-mac="%s"]'); return r ? [...r.querySelectorAll(".step.done")].map(s => s.dataset.stage).join(",") : ""; })()`, mac)
	var seen []string
	shotMid := false
	var res outcome
	for finished := false; !finished; {
		select {
		case res = <-done:
			finished = true
		case <-time.After(100 * time.Millisecond):
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](doneSteps))
		if err != nil {
			t.Fatalf("reading the page: %v", err)
		}
		if got != "" && (len(seen) == 0 || seen[len(seen)-1] != got) {
			seen = append(seen, got)
			t.Logf("%s: row shows %s", time.Since(start).Round(100*time.Millisecond), got)
		}
		if !shotMid && strings.Count(got, ",") == 2 {
			screenshot(t, ctx, shots, "2-booting.png")
			shotMid = true
		}
	}
	if res.err != nil {
		t.Fatalf("the scripted client: %v", res.err)
	}
	if res.rep.Completed != 1 {
		t.Fatalf("the scripted client did not boot: %v", res.rep.FirstErrors(1))
	}
	const all = "dhcp,tftp,script,kernel,initrd,ignition"
	waitText("the finished row", doneSteps, all, 5*time.Second)
	seen = append(seen, all)
	if len(seen) < 4 {
		t.Errorf("the row jumped instead of advancing stage by stage: %v", seen)
	}
	if mark, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.pixieTestMark || 0`)); err != nil || mark != 7 {
		t.Errorf("the page reloaded during the boot (mark %d, %v)", mark, err)
	}
	screenshot(t, ctx, shots, "3-booted.png")

	// The pause switch, checked through the CLI.
	cliStatus := func() api.Status {
		t.Helper()
		out, err := env.LAN.Exec(ns, bin, "--socket", env.Socket, "status", "--json")
		var st api.Status
		if err != nil || json.Unmarshal([]byte(out), &st) != nil {
			t.Fatalf("pixie status: %v\n%s", err, out)
		}
		return st
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("toggle"))); err != nil {
		t.Fatal(err)
	}
	waitText("state after pausing", `document.getElementById("state").textContent`, "paused", 5*time.Second)
	if st := cliStatus(); !st.Paused {
		t.Errorf("the page shows paused but pixie status says %+v", st)
	}
	screenshot(t, ctx, shots, "4-paused.png")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("toggle"))); err != nil {
		t.Fatal(err)
	}
	waitText("state after resuming", `document.getElementById("state").textContent`, "serving", 5*time.Second)
	if st := cliStatus(); st.Paused {
		t.Error("resumed in the page, still paused for the CLI")
	}

	// The machine's timeline.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`tr.boot[data-mac="`+mac+`"]`))); err != nil {
		t.Fatal(err)
	}
	waitText("timeline rows", `String(document.querySelectorAll("#tl-rows tr").length >= 8 && !document.getElementById("timeline").hidden)`, "true", 5*time.Second)
	rows, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#tl-rows tr").length`))
	stages, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("#tl-rows tr td:nth-child(2)")].map(td => td.textContent).join(",")`))
	if rows < 8 || !strings.Contains(stages, "kernel") || !strings.Contains(stages, "ignition") {
		t.Errorf("timeline shows %d rows: %s", rows, stages)
	}
	screenshot(t, ctx, shots, "5-timeline.png")
	t.Logf("screenshots in %s", shots)
}

func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	// From the top: the sticky header would otherwise be drawn mid-page.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.scrollTo(0, 0), 0`)); err != nil {
		t.Errorf("screenshot %s: %v", name, err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Error(err)
	}
}
