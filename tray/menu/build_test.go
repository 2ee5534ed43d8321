package menu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pixie-boot/pixie/daemon/api"
)

var now = time.Date(2026, 3, 4, 15, 30, 0, 0, time.UTC)

func serving() api.Status {
	return api.Status{Serving: true, Interface: "en5", Address: "10.2.0.200",
		DataDir: "/var/lib/pixie", BootURL: "http://10.2.0.200:8080/boot.ipxe", Version: "v1"}
}

func profiles() []api.Profile {
	return []api.Profile{{Name: "first-time", Description: "default"}, {Name: "worker"}}
}

func boot(mac, stage string, ago time.Duration, known bool, profile, hostname string) api.BootSummary {
	return api.BootSummary{MAC: mac, Known: known, Profile: profile, Hostname: hostname,
		Last: api.Event{MAC: mac, Stage: stage, Time: now.Add(-ago), IP: "10.2.0.50", Arch: "efi-x64"}}
}

func notRunning() error {
	return &api.NotRunningError{Socket: "/run/pixie/pixie.sock", Err: syscall.ENOENT}
}

// text draws an item tree one item a line, indented by depth:
// "[x]" checked, "[ ]" checkable, "(off)" disabled, "-> action", "---"
// separators. Tooltips are left out; tests that care look at them.
func text(items []Item) string {
	var b strings.Builder
	var walk func([]Item, string)
	walk = func(items []Item, indent string) {
		for _, it := range items {
			if it.Hidden {
				continue
			}
			if it.Separator {
				b.WriteString(indent + "---\n")
				continue
			}
			b.WriteString(indent)
			if it.Checkable {
				if it.Checked {
					b.WriteString("[x] ")
				} else {
					b.WriteString("[ ] ")
				}
			}
			b.WriteString(it.Title)
			if !it.Enabled {
				b.WriteString(" (off)")
			}
			if it.Action != (Action{}) {
				b.WriteString(" -> " + it.Action.String())
			}
			b.WriteString("\n")
			walk(it.Children, indent+"    ")
		}
	}
	walk(items, "")
	return b.String()
}

func TestBuild(t *testing.T) {
	paused := serving()
	paused.Paused = true
	tests := []struct {
		name    string
		st      State
		want    string
		wantOn  bool
		wantTip string
	}{{
		name: "daemon not running",
		st:   State{Err: notRunning(), DataDir: "/var/lib/pixie", Now: now},
		want: `Service not running (off)
[ ] Offer network boot (off)
---
Recently booted (off)
Not available right now (off)
---
Open data folder -> open-data-folder /var/lib/pixie
Show logs -> show-logs
Install service… -> install-service
---
Quit -> quit
`,
		wantTip: "pixie: Service not running",
	}, {
		name: "serving, two machines, service installed",
		st: State{Status: serving(), Profiles: profiles(), ServiceInstalled: true, Now: now, DataDir: "/elsewhere", Dashboard: true,
			Boots: []api.BootSummary{
				boot("90:2b:34:14:f6:6a", "ignition", 2*time.Minute, false, "first-time", ""),
				boot("52:54:00:12:34:56", "kernel", 3*time.Hour, true, "worker", "node1"),
			}},
		want: `Serving on en5 · 10.2.0.200 (off)
[x] Offer network boot -> pause
---
Recently booted (off)
90:2b:34:14:f6:6a · first-time · Ignition ✓ · 2 min ago
    Copy MAC -> copy-mac 90:2b:34:14:f6:6a
    Assign profile
        [x] first-time -> assign-profile 90:2b:34:14:f6:6a first-time
        [ ] worker -> assign-profile 90:2b:34:14:f6:6a worker
    Show timeline -> show-timeline 90:2b:34:14:f6:6a
    ---
    Forget machine (off)
52:54:00:12:34:56 · node1 · kernel · 3 h ago
    Copy MAC -> copy-mac 52:54:00:12:34:56
    Assign profile
        [ ] first-time -> assign-profile 52:54:00:12:34:56 first-time
        [x] worker -> assign-profile 52:54:00:12:34:56 worker
    Show timeline -> show-timeline 52:54:00:12:34:56
    ---
    Forget machine -> forget-machine 52:54:00:12:34:56
---
Open dashboard -> open-dashboard
Open data folder -> open-data-folder /var/lib/pixie
Show logs -> show-logs
---
Quit -> quit
`,
		wantOn:  true,
		wantTip: "pixie: Serving on en5 · 10.2.0.200",
	}, {
		name: "paused, nothing booted yet",
		st:   State{Status: paused, Profiles: profiles(), ServiceInstalled: true, Now: now},
		want: `Paused (off)
[ ] Offer network boot -> resume
---
Recently booted (off)
No machines booted yet (off)
---
Open data folder -> open-data-folder /var/lib/pixie
Show logs -> show-logs
---
Quit -> quit
`,
		wantTip: "pixie: Paused",
	}, {
		name: "up but boot servers down",
		st:   State{Status: api.Status{Interface: "en5"}, ServiceInstalled: true, Now: now},
		want: `Not serving (off)
[x] Offer network boot -> pause
---
Recently booted (off)
No machines booted yet (off)
---
Open data folder (off) -> open-data-folder
Show logs -> show-logs
---
Quit -> quit
`,
		wantTip: "pixie: Not serving",
	}, {
		name: "interface down: the daemon says why",
		st: State{Status: api.Status{Interface: "en5", Address: "10.2.0.200", Problem: "interface en5 is down: bring it up"},
			ServiceInstalled: true, Now: now},
		want: `Not serving (en5 · 10.2.0.200) (off)
[x] Offer network boot -> pause
---
Recently booted (off)
No machines booted yet (off)
---
Open data folder (off) -> open-data-folder
Show logs -> show-logs
---
Quit -> quit
`,
		wantTip: "pixie: Not serving (en5 · 10.2.0.200)",
	}, {
		name: "serving, but no DHCP server on the link",
		st: State{Status: api.Status{Serving: true, Interface: "en5", Address: "10.2.0.200",
			DHCP: api.DHCPStatus{Mode: "proxy", Checked: true, Warning: "no DHCP server answered on en5: machines will get no address; run `pixie serve --dhcp` to hand out addresses on this link"}},
			ServiceInstalled: true, Now: now},
		want: `Serving (en5 · 10.2.0.200) — DHCP problem (off)
[x] Offer network boot -> pause
---
Recently booted (off)
No machines booted yet (off)
---
Open data folder (off) -> open-data-folder
Show logs -> show-logs
---
Quit -> quit
`,
		wantOn:  true,
		wantTip: "pixie: Serving (en5 · 10.2.0.200) — DHCP problem",
	}, {
		name: "no permission, a failed action a moment ago",
		st: State{Err: &api.PermissionError{Socket: "/run/pixie/pixie.sock", Err: syscall.EACCES}, ServiceInstalled: true,
			DataDir: "/var/lib/pixie", Now: now, Notice: "Could not pause network boot: boom\nmore", NoticeAt: now.Add(-30 * time.Second)},
		want: `No permission to use pixie (off)
[ ] Offer network boot (off)
---
Recently booted (off)
Not available right now (off)
---
⚠ Could not pause network boot: boom (off)
Open data folder -> open-data-folder /var/lib/pixie
Show logs -> show-logs
---
Quit -> quit
`,
		wantTip: "pixie: No permission to use pixie",
	}, {
		name: "an old notice is gone, a daemon error",
		st: State{Err: &api.Error{Status: 500, Code: api.CodeInternal, Message: "disk full"}, ServiceInstalled: true,
			Now: now, Notice: "Could not pause network boot: boom", NoticeAt: now.Add(-2 * time.Minute)},
		want: `Service error (off)
[ ] Offer network boot (off)
---
Recently booted (off)
Not available right now (off)
---
Open data folder (off) -> open-data-folder
Show logs -> show-logs
---
Quit -> quit
`,
		wantTip: "pixie: Service error",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Build(tt.st)
			if diff := cmp.Diff(tt.want, text(m.Items)); diff != "" {
				t.Errorf("menu (-want +got):\n%s", diff)
			}
			if m.On != tt.wantOn || m.Tooltip != tt.wantTip {
				t.Errorf("icon on %v tooltip %q, want %v %q", m.On, m.Tooltip, tt.wantOn, tt.wantTip)
			}
		})
	}
}

func TestBuildShowsTenNewestFirst(t *testing.T) {
	st := State{Status: serving(), Now: now, ServiceInstalled: true}
	for i := range 12 {
		st.Boots = append(st.Boots, boot(fmt.Sprintf("52:54:00:00:00:%02x", i), "dhcp", time.Duration(i)*time.Minute, false, "first-time", ""))
	}
	var macs []string
	for _, it := range Build(st).Items {
		if len(it.Children) > 0 && !it.Hidden {
			macs = append(macs, strings.SplitN(it.Title, " ", 2)[0])
		}
	}
	if len(macs) != MaxRecent || macs[0] != "52:54:00:00:00:00" || macs[9] != "52:54:00:00:00:09" {
		t.Errorf("recent MACs = %v, want the first %d in the daemon's order", macs, MaxRecent)
	}
}

func TestStatusLine(t *testing.T) {
	brokeErr := fmt.Errorf("talk to the pixie daemon on x: %w", &url.Error{Op: "Get", URL: "http://pixie/v1/status", Err: io.EOF})
	tests := []struct {
		name string
		st   State
		line string
		tip  string
	}{
		{"serving", State{Status: serving()}, "Serving on en5 · 10.2.0.200", "http://10.2.0.200:8080/boot.ipxe · pixie v1"},
		{"serving, address only", State{Status: api.Status{Serving: true, Address: "10.2.0.200"}}, "Serving on 10.2.0.200", ""},
		{"serving beside launchd's bootpd", State{Status: linkLayer(serving())}, "Serving on en5 · 10.2.0.200",
			"http://10.2.0.200:8080/boot.ipxe · proxyDHCP over the link layer (port 67 is held by PID 1 (launchd)) · pixie v1"},
		{"serving, nothing known", State{Status: api.Status{Serving: true}}, "Serving", ""},
		{"paused", State{Status: api.Status{Serving: true, Paused: true, Interface: "en5", Address: "10.2.0.200"}}, "Paused", "Network boot is paused (en5 · 10.2.0.200)"},
		{"not running", State{Err: notRunning()}, "Service not running", notRunning().Error()},
		{"connection broke", State{Err: brokeErr}, "Service not running", brokeErr.Error()},
		{"hung", State{Err: context.DeadlineExceeded}, "Service not responding", "context deadline exceeded"},
		{"nonsense", State{Err: errors.New("read the pixie daemon's answer to GET /v1/boots: unexpected EOF")}, "Service error", "read the pixie daemon's answer to GET /v1/boots: unexpected EOF"},
		{"connecting", State{Err: ErrConnecting}, "Connecting…", "Connecting to the pixie service"},
	}
	for _, tt := range tests {
		line, tip := StatusLine(tt.st)
		if line != tt.line || tip != tt.tip {
			t.Errorf("%s: StatusLine = %q, %q; want %q, %q", tt.name, line, tip, tt.line, tt.tip)
		}
	}
}

// linkLayer is st with port 67 held by launchd (Internet Sharing), pixie
// answering over BPF.
func linkLayer(st api.Status) api.Status {
	st.DHCPLinkLayer = "proxyDHCP over the link layer: port 67 is held by PID 1 (launchd), for bootpd: Internet Sharing or a VM app's shared network"
	return st
}

// The menu-bar icon's tooltip says when proxyDHCP runs over the link
// layer and why; the menu keeps its shape (no item comes or goes).
func TestTooltipLinkLayer(t *testing.T) {
	plain := Build(State{Status: serving(), Profiles: profiles(), Now: now})
	ll := Build(State{Status: linkLayer(serving()), Profiles: profiles(), Now: now})
	if want := "pixie: Serving on en5 · 10.2.0.200 — proxyDHCP over the link layer (port 67 is held by PID 1 (launchd))"; ll.Tooltip != want {
		t.Errorf("tooltip %q, want %q", ll.Tooltip, want)
	}
	if strings.Contains(plain.Tooltip, "link layer") {
		t.Errorf("tooltip over UDP sockets: %q", plain.Tooltip)
	}
	if !SameShape(plain.Items, ll.Items) {
		t.Error("the link-layer note changed the menu's shape")
	}
	pausedLL := linkLayer(serving())
	pausedLL.Paused = true
	if m := Build(State{Status: pausedLL, Profiles: profiles(), Now: now}); strings.Contains(m.Tooltip, "link layer") {
		t.Errorf("paused tooltip %q mentions the link layer", m.Tooltip)
	}
}

// The "Start at login" toggle is hidden where there is no login item, and
// otherwise checked while it is on, its action the change a click makes.
func TestLoginItemToggle(t *testing.T) {
	find := func(m Menu) Item {
		for _, it := range m.Items {
			if it.Title == TitleLoginItem {
				return it
			}
		}
		t.Fatalf("no %q item", TitleLoginItem)
		return Item{}
	}
	base := State{Status: serving(), Profiles: profiles(), Now: now}
	none := Build(base)
	if it := find(none); !it.Hidden {
		t.Errorf("toggle shown without a login item: %+v", it)
	}
	off, on := base, base
	off.LoginItem = LoginItemState{Known: true}
	on.LoginItem = LoginItemState{Known: true, On: true}
	mOff, mOn := Build(off), Build(on)
	if it := find(mOff); it.Hidden || it.Checked || !it.Checkable || it.Action.Kind != LoginItemOn {
		t.Errorf("off: %+v", it)
	}
	if it := find(mOn); it.Hidden || !it.Checked || it.Action.Kind != LoginItemOff {
		t.Errorf("on: %+v", it)
	}
	if !SameShape(none.Items, mOff.Items) || !SameShape(mOff.Items, mOn.Items) {
		t.Error("the toggle changed the menu's shape")
	}
	// It works while the daemon is down too: it is about this app.
	down := Build(State{Err: notRunning(), LoginItem: LoginItemState{Known: true}, Now: now})
	if it := find(down); it.Hidden || !it.Enabled {
		t.Errorf("daemon down: %+v", it)
	}
}

func TestBootLabel(t *testing.T) {
	tests := []struct {
		b    api.BootSummary
		want string
	}{
		{boot("90:2b:34:14:f6:6a", "ignition", 2*time.Minute, false, "first-time", ""), "90:2b:34:14:f6:6a · first-time · Ignition ✓ · 2 min ago"},
		{boot("90:2b:34:14:f6:6a", "tftp", 10*time.Second, true, "worker", "node1"), "90:2b:34:14:f6:6a · node1 · iPXE loaded · just now"},
		{boot("90:2b:34:14:f6:6a", "error", 26*time.Hour, true, "", ""), "90:2b:34:14:f6:6a · error ✗ · yesterday"},
		{boot("90:2b:34:14:f6:6a", "warp-drive", 0, false, "p", ""), "90:2b:34:14:f6:6a · p · warp-drive · just now"},
		{withAddress(boot("90:2b:34:14:f6:6a", "booted", time.Minute, true, "worker", "node1"), "10.0.0.57"), "90:2b:34:14:f6:6a · 10.0.0.57 · node1 · booted ✓ · 1 min ago"},
	}
	for _, tt := range tests {
		if got := BootLabel(tt.b, now); got != tt.want {
			t.Errorf("BootLabel = %q, want %q", got, tt.want)
		}
	}
}

func withAddress(b api.BootSummary, addr string) api.BootSummary { b.Address = addr; return b }

func TestAge(t *testing.T) {
	tests := []struct {
		ago  time.Duration
		want string
	}{
		{-5 * time.Second, "just now"}, // a clock a little ahead of ours
		{0, "just now"},
		{59 * time.Second, "just now"},
		{time.Minute, "1 min ago"},
		{59*time.Minute + 59*time.Second, "59 min ago"},
		{time.Hour, "1 h ago"},
		{23 * time.Hour, "23 h ago"},
		{24 * time.Hour, "yesterday"},
		{3 * 24 * time.Hour, "3 days ago"},
		{30 * 24 * time.Hour, "Feb 2"},
	}
	for _, tt := range tests {
		if got := Age(now, now.Add(-tt.ago)); got != tt.want {
			t.Errorf("Age(%v ago) = %q, want %q", tt.ago, got, tt.want)
		}
	}
	if got := Age(now, time.Time{}); got != "" {
		t.Errorf("Age(zero) = %q, want empty", got)
	}
}

func TestSameShape(t *testing.T) {
	base := State{Status: serving(), Profiles: profiles(), Now: now, ServiceInstalled: true,
		Boots: []api.BootSummary{boot("90:2b:34:14:f6:6a", "dhcp", time.Minute, false, "first-time", "")}}
	a := Build(base).Items

	// What happens while the menu is open keeps its shape: it is updated
	// in place, never rebuilt under the user's pointer.
	later := base
	later.Now = now.Add(time.Hour)
	later.Status.Paused = true
	later.Boots = []api.BootSummary{boot("52:54:00:12:34:56", "ignition", 0, true, "worker", "node1")}
	more := base
	more.Boots = append(more.Boots, boot("52:54:00:12:34:56", "dhcp", 0, false, "first-time", ""))
	none := base
	none.Boots = nil
	down := base
	down.Err = notRunning()
	notInstalled := base
	notInstalled.ServiceInstalled = false
	failed := base
	failed.Notice, failed.NoticeAt = "Could not pause", now
	for name, st := range map[string]State{"new titles, checks and actions": later, "another machine": more, "no machines": none,
		"daemon down": down, "install offered": notInstalled, "a notice": failed} {
		if !SameShape(a, Build(st).Items) {
			t.Errorf("%s: want the same shape", name)
		}
	}

	fewerProfiles := base
	fewerProfiles.Profiles = profiles()[:1]
	if SameShape(a, Build(fewerProfiles).Items) {
		t.Error("a profile less: want a different shape")
	}
	if SameShape(a, a[1:]) || SameShape([]Item{{Separator: true}}, []Item{{Title: "x"}}) {
		t.Error("different items: want a different shape")
	}
}

func TestStageWords(t *testing.T) {
	want := map[string]string{
		"dhcp": "DHCP offer", "pxe": "PXE request", "tftp": "iPXE loaded", "script": "boot script",
		"kernel": "kernel", "initrd": "initrd", "rootfs": "root filesystem", "ignition": "Ignition ✓",
		"booted": "booted ✓", "error": "error ✗", "something-new": "something-new",
	}
	for stage, words := range want {
		if got := StageWords(stage); got != words {
			t.Errorf("StageWords(%q) = %q, want %q", stage, got, words)
		}
	}
}

func TestBootTooltipSaysTheLoader(t *testing.T) {
	base := api.BootSummary{MAC: "52:54:00:00:00:01", Known: true, Profile: "first-time",
		Last: api.Event{Stage: "dhcp", IP: "10.0.0.9", Arch: "efi-x64", Detail: "offer ipxe.efi (loader auto, stepped to ipxe)"}}
	tests := []struct {
		loader, step, want string
	}{
		{"auto", "", "10.0.0.9 · efi-x64 · offer ipxe.efi (loader auto, stepped to ipxe)"},
		{"auto", "ipxe", "10.0.0.9 · efi-x64 · offer ipxe.efi (loader auto, stepped to ipxe) · loader stepped to ipxe"},
		{"grub", "", "10.0.0.9 · efi-x64 · offer ipxe.efi (loader auto, stepped to ipxe) · loader grub (pinned)"},
	}
	for _, tt := range tests {
		b := base
		b.Loader, b.LoaderStep = tt.loader, tt.step
		if got := bootItem(b, nil, time.Now()).Tooltip; got != tt.want {
			t.Errorf("loader %q step %q: tooltip %q, want %q", tt.loader, tt.step, got, tt.want)
		}
	}
}
