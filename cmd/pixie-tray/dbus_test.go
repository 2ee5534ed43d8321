package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/pixie-boot/pixie/assets/icons"
	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/control/controltest"
	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/tray/menu"
)

// The test binary plays three parts, chosen by these variables: the test
// itself; the same test inside a private D-Bus session; and the tray app.
const (
	envRole   = "PIXIE_TRAY_TEST_ROLE"
	roleInner = "inside-dbus-session"
	roleTray  = "tray"
)

func TestMain(m *testing.M) {
	if os.Getenv(envRole) == roleTray {
		// Be the real pixie-tray: its run, with the arguments given.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// TestDBusMenu runs the real tray against a real control server, in a
// private D-Bus session bus, and reads its menu the way a Linux panel
// does: com.canonical.dbusmenu GetLayout at the path the
// StatusNotifierItem's Menu property names. A boot event must show up in
// the menu, and clicking the toggle over D-Bus must pause the daemon.
func TestDBusMenu(t *testing.T) {
	if os.Getenv(envRole) != roleInner {
		runInsideDBusSession(t)
		return
	}

	d := startDaemon(t)
	tray := startTray(t, d.Socket)
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		t.Fatalf("connect to the test's session bus: %v", err)
	}
	defer conn.Close()

	// systray names itself after its process and item number.
	name := fmt.Sprintf("org.kde.StatusNotifierItem-%d-1", tray.Process.Pid)
	waitUntil(t, 10*time.Second, "the tray on the bus as "+name, func() bool {
		var has bool
		err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has)
		return err == nil && has
	})
	item := conn.Object(name, "/StatusNotifierItem")
	// The library takes its bus name a moment before it exports the
	// item's properties: a busy machine can ask in between.
	var v dbus.Variant
	waitUntil(t, 10*time.Second, "the item's Menu property", func() bool {
		v, err = item.GetProperty("org.kde.StatusNotifierItem.Menu")
		return err == nil
	})
	menuPath, ok := v.Value().(dbus.ObjectPath)
	if !ok {
		t.Fatalf("Menu property is %T %v, not an object path", v.Value(), v.Value())
	}
	dm := conn.Object(name, menuPath)
	t.Logf("StatusNotifierItem %s, menu at %s", name, menuPath)

	layout := func() *dbusItem {
		var rev uint32
		var root struct {
			ID       int32
			Props    map[string]dbus.Variant
			Children []dbus.Variant
		}
		err := dm.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &root)
		if err != nil {
			t.Fatalf("GetLayout: %v", err)
		}
		return parseItem([]any{root.ID, root.Props, root.Children})
	}
	var l *dbusItem
	wait := func(within time.Duration, what string, cond func(*dbusItem) bool) time.Duration {
		t.Helper()
		start := time.Now()
		for {
			if l = layout(); cond(l) {
				return time.Since(start)
			}
			if time.Since(start) > within {
				t.Fatalf("after %v: want %s; the menu reads:\n%s", within, what, l)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// The icon as the panel gets it, and each look as it should arrive.
	icon := func() string {
		v, err := item.GetProperty("org.kde.StatusNotifierItem.IconPixmap")
		if err != nil {
			t.Fatalf("IconPixmap: %v", err)
		}
		return fmt.Sprint(v.Value())
	}
	onLook, offLook := pixmap(t, icons.Color(true)), pixmap(t, icons.Color(false))

	// Serving, and the menu complete (the first profiles read rebuilds
	// it, and GetLayout may come in the middle).
	wait(10*time.Second, "serving", func(l *dbusItem) bool {
		return l.has("Serving on en5 · 10.2.0.200") && l.has(menu.TitleQuit)
	})
	waitUntil(t, 3*time.Second, "the on icon", func() bool { return icon() == onLook })

	before := l

	const mac = "90:2b:34:14:f6:6a"
	start := time.Now()
	d.record(mac, events.StageDHCP)
	d.record(mac, events.StageTFTP)
	d.record(mac, events.StageIgnition)
	// The label, and its submenu (systray sends only the top level on
	// the first GetLayout after a rebuild, the rest on the next).
	wait(5*time.Second, mac+" in the menu", func(l *dbusItem) bool {
		it := l.find(mac + " ")
		return it != nil && strings.Contains(it.label, "Ignition ✓") && it.child(menu.TitleCopyMAC) != nil
	})
	t.Logf("boot event in the D-Bus menu after %v", time.Since(start))
	if !strings.HasPrefix(l.find(mac+" ").label, mac+" · 10.2.0.50 · first-time · Ignition ✓ · just now") {
		t.Errorf("label %q", l.find(mac+" ").label)
	}

	// Updated in place, not rebuilt: a menu open on the screen stays open.
	if got, want := l.ids(), before.ids(); got != want {
		t.Errorf("the menu was rebuilt for a new machine: item IDs %s, were %s", got, want)
	}

	toggle := l.find(menu.TitleToggle)
	if toggle == nil || toggle.toggleState != 1 || !toggle.enabled {
		t.Fatalf("toggle %+v, want enabled and checked", toggle)
	}
	t.Logf("the menu before the click, as GetLayout returns it:\n%s", l)
	click := func(id int32) {
		t.Helper()
		err := dm.Call("com.canonical.dbusmenu.Event", 0, id, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix())).Err
		if err != nil {
			t.Fatalf("Event clicked %d: %v", id, err)
		}
	}
	click(toggle.id)
	waitUntil(t, 2*time.Second, "the daemon paused", d.Paused.Load)
	wait(2*time.Second, "Paused, toggle unchecked", func(l *dbusItem) bool {
		it := l.find(menu.TitleToggle)
		return l.has(menu.StatusPaused) && it != nil && it.toggleState == 0
	})
	t.Logf("the menu after clicking %q, as GetLayout returns it:\n%s", menu.TitleToggle, l)
	waitUntil(t, time.Second, "the off icon", func() bool { return icon() == offLook })

	// Clicking again resumes.
	click(l.find(menu.TitleToggle).id)
	waitUntil(t, 2*time.Second, "the daemon resumed", func() bool { return !d.Paused.Load() })
	wait(2*time.Second, "serving again", func(l *dbusItem) bool { return l.has("Serving on en5 · 10.2.0.200") })
	waitUntil(t, time.Second, "the on icon again", func() bool { return icon() == onLook })

	// The daemon goes away: the menu says so.
	d.Stop()
	wait(5*time.Second, "Service not running", func(l *dbusItem) bool {
		return l.has(menu.StatusNotRunning) && l.find(mac+" ") == nil
	})
	t.Logf("the menu with the daemon stopped:\n%s", l)

	// Quit, clicked over D-Bus, ends the tray cleanly (the daemon would
	// keep running).
	click(l.find(menu.TitleQuit).id)
	done := make(chan error, 1)
	go func() { done <- tray.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("tray exited with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("tray did not exit after Quit")
		tray.Process.Kill()
		<-done
	}
	checkRaces(t, tray.Stdout.(*logWriter).String())
}

// checkRaces fails the test for a data race the race detector found in
// the tray (when the test runs with -race) in which one of the two
// accesses is pixie's code. fyne.io/systray v1.12.2 has races of its own
// (e.g. its menu version counter is written and read under different
// locks); those are only logged.
func checkRaces(t *testing.T, out string) {
	t.Helper()
	ours, theirs := races(out)
	for _, r := range ours {
		t.Errorf("data race in the tray:%s", r)
	}
	for _, r := range theirs {
		t.Logf("data race inside fyne.io/systray (tolerated):%s", r)
	}
}

// races splits the race detector's reports in out into those where pixie's
// code made one of the accesses and the others.
func races(out string) (ours, theirs []string) {
	for _, r := range strings.Split(out, "WARNING: DATA RACE")[1:] {
		r, _, _ = strings.Cut(r, "==================")
		lines := strings.Split(r, "\n")
		mine := false
		for i, l := range lines {
			// "Write at 0x... by goroutine 7:", "Previous read at ...":
			// the next line is the function that made the access.
			if strings.Contains(l, " at 0x") && strings.HasSuffix(l, ":") && i+1 < len(lines) &&
				strings.HasPrefix(strings.TrimSpace(lines[i+1]), "github.com/pixie-boot/pixie/") {
				mine = true
			}
		}
		if mine {
			ours = append(ours, r)
		} else {
			theirs = append(theirs, r)
		}
	}
	return ours, theirs
}

// runInsideDBusSession reruns this test in a private session bus, which
// dbus-run-session starts for it and stops after it: the tray and the test
// then share that bus and nothing else's.
func runInsideDBusSession(t *testing.T) {
	drs, err := exec.LookPath("dbus-run-session")
	if err != nil {
		t.Skip("dbus-run-session not found: install the dbus-daemon package (Debian, Ubuntu: apt-get install dbus-daemon) to run the D-Bus menu test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, drs, "--", os.Args[0], "-test.run=^TestDBusMenu$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), envRole+"="+roleInner)
	out, err := cmd.CombinedOutput()
	t.Logf("under dbus-run-session:\n%s", out)
	switch {
	case err != nil:
		t.Fatalf("the test inside the D-Bus session failed: %v", err)
	case bytes.Contains(out, []byte("--- SKIP: TestDBusMenu")):
		t.Skip("skipped inside the D-Bus session")
	case !bytes.Contains(out, []byte("--- PASS: TestDBusMenu")):
		t.Fatal("the test inside the D-Bus session did not pass")
	}
}

// startTray runs this test binary as pixie-tray against socket, its output
// going to the test log.
func startTray(t *testing.T, socket string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "--socket", socket)
	// Under -race, report races but let checkRaces judge them: some are
	// systray's own.
	cmd.Env = append(os.Environ(), envRole+"="+roleTray, "GORACE=exitcode=0")
	out := &logWriter{t: t}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		out.stop()
	})
	return cmd
}

// logWriter passes the tray's output to the test log while the test runs,
// and keeps it.
type logWriter struct {
	t       *testing.T
	mu      sync.Mutex
	all     bytes.Buffer
	stopped bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all.Write(p)
	if !w.stopped {
		w.t.Logf("tray: %s", bytes.TrimSpace(p))
	}
	return len(p), nil
}

func (w *logWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.all.String()
}

func (w *logWriter) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}

func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: want %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pixmap is a PNG as a StatusNotifierItem IconPixmap reads back (width,
// height, ARGB bytes in network order), printed for comparison.
func pixmap(t *testing.T, pngBytes []byte) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		t.Fatal(err)
	}
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	var argb []byte
	for y := range h {
		for x := range w {
			r, g, b, a := img.At(x, y).RGBA()
			argb = append(argb, byte(a), byte(r), byte(g), byte(b))
		}
	}
	return fmt.Sprint([]any{[]any{int32(w), int32(h), argb}})
}

// dbusItem is one item of a com.canonical.dbusmenu layout.
type dbusItem struct {
	id          int32
	label       string
	separator   bool
	enabled     bool
	visible     bool
	checkmark   bool
	toggleState int32
	children    []*dbusItem
}

// parseItem decodes a layout node, (ia{sv}av) as godbus delivers it.
func parseItem(v any) *dbusItem {
	f, ok := v.([]any)
	if !ok || len(f) != 3 {
		return &dbusItem{label: fmt.Sprintf("<malformed %T>", v)}
	}
	it := &dbusItem{enabled: true, visible: true}
	it.id, _ = f[0].(int32)
	props, _ := f[1].(map[string]dbus.Variant)
	for k, p := range props {
		switch val := p.Value(); k {
		case "label":
			it.label, _ = val.(string)
		case "type":
			it.separator = val == "separator"
		case "enabled":
			it.enabled, _ = val.(bool)
		case "visible":
			it.visible, _ = val.(bool)
		case "toggle-type":
			it.checkmark = val == "checkmark"
		case "toggle-state":
			it.toggleState, _ = val.(int32)
		}
	}
	children, _ := f[2].([]dbus.Variant)
	for _, c := range children {
		it.children = append(it.children, parseItem(c.Value()))
	}
	return it
}

// find returns the first item, at any depth, whose label starts with
// prefix.
func (it *dbusItem) find(prefix string) *dbusItem {
	for _, c := range it.children {
		if !c.visible {
			continue
		}
		if !c.separator && strings.HasPrefix(c.label, prefix) {
			return c
		}
		if f := c.find(prefix); f != nil {
			return f
		}
	}
	return nil
}

// ids lists the IDs of the top-level items, hidden ones included (the
// first GetLayout after a rebuild has only those).
func (it *dbusItem) ids() string {
	var b strings.Builder
	for _, c := range it.children {
		fmt.Fprintf(&b, "%d ", c.id)
	}
	return b.String()
}

func (it *dbusItem) has(label string) bool {
	f := it.find(label)
	return f != nil && f.label == label
}

func (it *dbusItem) child(label string) *dbusItem {
	for _, c := range it.children {
		if c.label == label {
			return c
		}
	}
	return nil
}

// String draws the layout like the menu: "[x]" checked and "[ ]"
// unchecked check boxes, "(disabled)", "---" separators, item IDs last.
func (it *dbusItem) String() string {
	var b strings.Builder
	var walk func(*dbusItem, string)
	walk = func(it *dbusItem, indent string) {
		for _, c := range it.children {
			switch {
			case c.separator:
				b.WriteString(indent + "---\n")
				continue
			case !c.visible:
				continue
			}
			b.WriteString(indent)
			if c.checkmark {
				if c.toggleState == 1 {
					b.WriteString("[x] ")
				} else {
					b.WriteString("[ ] ")
				}
			}
			b.WriteString(c.label)
			if !c.enabled {
				b.WriteString(" (disabled)")
			}
			fmt.Fprintf(&b, "  #%d\n", c.id)
			walk(c, indent+"    ")
		}
	}
	walk(it, "  ")
	return b.String()
}

// testDaemon is the daemon's control API on a real socket in front of a
// real store, as the tray sees pixie.
type testDaemon struct{ *controltest.Daemon }

func startDaemon(t *testing.T) *testDaemon {
	t.Helper()
	return &testDaemon{controltest.Start(t, controltest.Options{
		Status: api.Status{Interface: "en5", Address: "10.2.0.200"},
	})}
}

func (d *testDaemon) record(mac string, stage events.Stage) {
	d.Record(events.Event{MAC: mac, IP: "10.2.0.50", Arch: "efi-x64", Stage: stage})
}
