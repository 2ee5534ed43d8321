package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
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

	// The machine's timeline, and a profile assigned from it: the next
	// boot gets that profile.
	apic := env.API()
	first, err := apic.Profile(ctx, "first-time")
	if err != nil {
		t.Fatal(err)
	}
	worker := first
	worker.Name, worker.Description = "worker", "the profile the page assigns"
	if _, err := apic.CreateProfile(ctx, worker); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`tr.boot[data-mac="`+mac+`"]`))); err != nil {
		t.Fatal(err)
	}
	waitText("timeline rows", `String(document.querySelectorAll("#tl-rows tr").length >= 8 && !document.getElementById("timeline").hidden)`, "true", 5*time.Second)
	stages, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("#tl-rows tr td:nth-child(2)")].map(td => td.textContent).join(",")`))
	if !strings.Contains(stages, "kernel") || !strings.Contains(stages, "ignition") {
		t.Errorf("timeline shows %s", stages)
	}
	waitText("profile choices", `[...document.querySelectorAll("#tl-profile option")].map(o => o.value).join(",")`, "worker", 5*time.Second)
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("tl-profile"), "worker"), chromedp.SetValue(chromedp.ID("tl-hostname"), "node7"),
		chromedp.Click(chromedp.CSS("#tl-assign button"))); err != nil {
		t.Fatal(err)
	}
	waitText("assign message", `document.getElementById("tl-msg").textContent`, "gets profile worker", 5*time.Second)
	screenshot(t, ctx, shots, "5-timeline.png")
	if m, err := apic.Machine(ctx, mac); err != nil || m.Profile != "worker" || m.Hostname != "node7" {
		t.Fatalf("after saving in the page, the daemon has %+v, %v", m, err)
	}
	cfg.Pace = 0
	if rep, err := storm.Run(ctx, cfg); err != nil || rep.Completed != 1 {
		t.Fatalf("second boot: %v %v", err, rep)
	}
	es, err := apic.Timeline(ctx, mac, 50)
	if err != nil {
		t.Fatal(err)
	}
	lastScript := ""
	for _, e := range es {
		if e.Stage == "script" {
			lastScript = e.Detail
		}
	}
	if !strings.Contains(lastScript, "profile worker") {
		t.Errorf("the boot after the page's change got %q, want profile worker", lastScript)
	}
	waitText("the row's profile", `document.querySelector('tr.boot[data-mac="`+mac+`"] td:nth-child(3)').textContent`, "worker", 5*time.Second)

	// The Machines tab: a reserved address and a variable, saved.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`location.hash = "#machines", 0`)); err != nil {
		t.Fatal(err)
	}
	row := `#machines tr[data-mac="` + mac + `"]`
	waitText("machine row", `(() => { const r = document.querySelector('`+row+`'); return r ? r.querySelector('input[aria-label="hostname"]').value : ""; })()`, "node7", 5*time.Second)
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(row+` input[aria-label="reserved address"]`), "10.77.0.50/24"),
		chromedp.SetValue(chromedp.CSS(row+` input[aria-label="variables"]`), "role=worker"), chromedp.Click(chromedp.CSS(row+" button"))); err != nil {
		t.Fatal(err)
	}
	waitText("machine saved", `document.querySelector('`+row+` td:last-child span').textContent`, "saved", 5*time.Second)
	if m, err := apic.Machine(ctx, mac); err != nil || m.IP != "10.77.0.50/24" || m.Vars["role"] != "worker" || m.Profile != "worker" {
		t.Errorf("after the Machines tab: %+v, %v", m, err)
	}
	screenshot(t, ctx, shots, "6-machines.png")

	// A Butane config with a mistake: the page shows where, and the
	// profile keeps its config.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`location.hash = "#profiles", 0`)); err != nil {
		t.Fatal(err)
	}
	waitText("profile list", `[...document.querySelectorAll("#profiles tr")].map(r => r.dataset.profile).join(",")`, "worker", 5*time.Second)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`tr[data-profile="worker"]`))); err != nil {
		t.Fatal(err)
	}
	waitText("editor", `String(!document.getElementById("pf-edit").hidden && document.getElementById("pfe-config").value.length > 0)`, "true", 5*time.Second)
	const bad = "variant: fcos\nversion: 1.5.0\npasswd:\n  users:\n    - name: core\n      ssh_authorized_keys: [\"ssh-ed25519 AAAA test\"]\n      bogus_field: 1\n"
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("pfe-config"), bad), chromedp.Click(chromedp.CSS("#pf-edit button"))); err != nil {
		t.Fatal(err)
	}
	waitText("the config error", `document.getElementById("pfe-error").hidden ? "" : document.getElementById("pfe-error").textContent`, "Line 7, column 7", 5*time.Second)
	if p, err := apic.Profile(ctx, "worker"); err != nil || p.Ignition != first.Ignition {
		t.Errorf("a refused config changed the profile: %v", err)
	}
	screenshot(t, ctx, shots, "7-profile-error.png")

	// A pull from a fixture server in the daemon's namespace: progress,
	// then the image in the list.
	kernel := make([]byte, 24<<20)
	for i := range kernel {
		kernel[i] = byte(i * 7)
	}
	sum := sha256.Sum256(kernel)
	var fixture net.Listener
	if err := env.LAN.InNamespace(env.LAN.ServerNS, func() error {
		var err error
		fixture, err = net.Listen("tcp", "127.0.0.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	slow := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(kernel)))
		for off := 0; off < len(kernel); off += 1 << 20 {
			if _, err := w.Write(kernel[off:min(off+1<<20, len(kernel))]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			time.Sleep(120 * time.Millisecond)
		}
	})}
	go slow.Serve(fixture)
	defer slow.Close()
	kernelURL := fmt.Sprintf("http://%s/vmlinuz#sha256=%x", fixture.Addr(), sum)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`location.hash = "#images", 0`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("pull-os"), "generic"), chromedp.SetValue(chromedp.ID("pull-name"), "tiny"),
		chromedp.SetValue(chromedp.ID("pull-url"), kernelURL), chromedp.Click(chromedp.CSS("#pull button"))); err != nil {
		t.Fatal(err)
	}
	var pcts []string
	shotPull := false
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const p = document.querySelector(".pull"); return p ? p.dataset.state + " " + p.dataset.pct : ""; })()`))
		if got != "" && (len(pcts) == 0 || pcts[len(pcts)-1] != got) {
			pcts = append(pcts, got)
		}
		if !shotPull && strings.HasPrefix(got, "running") && !strings.HasSuffix(got, " 0") {
			screenshot(t, ctx, shots, "8-pulling.png")
			shotPull = true
		}
		if strings.HasPrefix(got, "done") || strings.HasPrefix(got, "failed") {
			break
		}
	}
	t.Logf("pull progress in the page: %v", pcts)
	if len(pcts) < 3 || !strings.HasPrefix(pcts[len(pcts)-1], "done 100") {
		t.Errorf("the pull did not show progress and end done: %v", pcts)
	}
	waitText("image list", `[...document.querySelectorAll("#images tr")].map(r => r.dataset.image).join(",")`, "generic/tiny", 5*time.Second)
	screenshot(t, ctx, shots, "9-images.png")
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
