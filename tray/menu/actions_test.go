package menu

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pixie-boot/pixie/daemon/api"
)

// recorder fakes the API and the desktop, writing down every call.
type recorder struct {
	calls    []string
	machines map[string]api.Machine
	fail     map[string]error // by method name
	quits    int
}

func (r *recorder) note(format string, args ...any) error {
	call := fmt.Sprintf(format, args...)
	r.calls = append(r.calls, call)
	name, _, _ := strings.Cut(call, " ")
	return r.fail[name]
}

func (r *recorder) Pause(context.Context) (api.Status, error) {
	return api.Status{Paused: true}, r.note("Pause")
}

func (r *recorder) Resume(context.Context) (api.Status, error) { return api.Status{}, r.note("Resume") }

func (r *recorder) Machine(_ context.Context, mac string) (api.Machine, error) {
	if err := r.note("Machine %s", mac); err != nil {
		return api.Machine{}, err
	}
	m, ok := r.machines[mac]
	if !ok {
		return api.Machine{}, &api.Error{Status: 404, Code: api.CodeNotFound, Message: "no machine " + mac}
	}
	return m, nil
}

func (r *recorder) PutMachine(_ context.Context, m api.Machine) (api.Machine, error) {
	return m, r.note("PutMachine %s profile=%s hostname=%s vars=%v", m.MAC, m.Profile, m.Hostname, m.Vars)
}

func (r *recorder) DeleteMachine(_ context.Context, mac string) error {
	return r.note("DeleteMachine %s", mac)
}

func (r *recorder) Timeline(_ context.Context, mac string, limit int) ([]api.Event, error) {
	t := time.Date(2026, 3, 4, 15, 0, 0, 0, time.Local)
	return []api.Event{
		{ID: 1, Time: t, MAC: mac, IP: "10.2.0.50", Arch: "efi-x64", Stage: "dhcp", Detail: "proxy offer"},
		{ID: 2, Time: t.Add(30 * time.Second), MAC: mac, Stage: "ignition", Detail: "config served"},
	}, r.note("Timeline %s %d", mac, limit)
}

func (r *recorder) CopyText(_ context.Context, s string) error { return r.note("CopyText %s", s) }
func (r *recorder) Open(_ context.Context, p string) error     { return r.note("Open %s", p) }
func (r *recorder) ShowText(_ context.Context, name, text string) error {
	first, _, _ := strings.Cut(text, "\n")
	return r.note("ShowText %s %q", name, first)
}
func (r *recorder) ShowLogs(context.Context) error       { return r.note("ShowLogs") }
func (r *recorder) InstallService(context.Context) error { return r.note("InstallService") }

const mac = "90:2b:34:14:f6:6a"

func TestDoLoginItem(t *testing.T) {
	var set []bool
	fail := error(nil)
	h := Handler{SetLoginItem: func(on bool) error { set = append(set, on); return fail }}
	for _, k := range []Kind{LoginItemOn, LoginItemOff} {
		if err := h.Do(context.Background(), Action{Kind: k}); err != nil {
			t.Errorf("%v: %v", k, err)
		}
	}
	if diff := cmp.Diff([]bool{true, false}, set); diff != "" {
		t.Errorf("SetLoginItem calls (-want +got):\n%s", diff)
	}
	fail = errors.New("write the login item /Users/ada/Library/LaunchAgents/dev.pixie.tray.plist: permission denied")
	err := h.Do(context.Background(), Action{Kind: LoginItemOff})
	if err == nil || err.Error() != "Could not stop pixie's menu starting at login: "+fail.Error() {
		t.Errorf("failure: %v", err)
	}
}

// With the dashboard, Open dashboard and Show timeline open its link in
// the browser; a dashboard that cannot start says why.
func TestDoDashboard(t *testing.T) {
	var asked []string
	fail := error(nil)
	r := &recorder{}
	h := Handler{API: r, Desktop: r, Dashboard: func(_ context.Context, m string) (string, error) {
		asked = append(asked, m)
		return "http://127.0.0.1:41234/login?token=T" + m, fail
	}}
	for _, a := range []Action{{Kind: OpenDashboard}, {Kind: ShowTimeline, MAC: mac}} {
		if err := h.Do(context.Background(), a); err != nil {
			t.Errorf("%v: %v", a.Kind, err)
		}
	}
	if diff := cmp.Diff([]string{"Open http://127.0.0.1:41234/login?token=T", "Open http://127.0.0.1:41234/login?token=T" + mac}, r.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"", mac}, asked); diff != "" {
		t.Errorf("dashboard links asked for (-want +got):\n%s", diff)
	}
	fail = errors.New("listen tcp 127.0.0.1:0: too many open files")
	if err := h.Do(context.Background(), Action{Kind: OpenDashboard}); err == nil || err.Error() != "Could not open the dashboard: "+fail.Error() {
		t.Errorf("failure: %v", err)
	}
	if err := (Handler{API: r, Desktop: r}).Do(context.Background(), Action{Kind: OpenDashboard}); err == nil || !strings.Contains(err.Error(), "not available") {
		t.Errorf("without a dashboard: %v", err)
	}
}

func TestDo(t *testing.T) {
	known := map[string]api.Machine{mac: {MAC: mac, Profile: "first-time", Hostname: "node1", Vars: map[string]string{"k": "v"}}}
	boom := errors.New("boom")
	tests := []struct {
		name     string
		action   Action
		machines map[string]api.Machine
		fail     map[string]error
		want     []string
		wantErr  string
		wantQuit bool
	}{
		{name: "pause", action: Action{Kind: Pause}, want: []string{"Pause"}},
		{name: "resume", action: Action{Kind: Resume}, want: []string{"Resume"}},
		{name: "pause fails", action: Action{Kind: Pause}, fail: map[string]error{"Pause": boom},
			want: []string{"Pause"}, wantErr: "Could not pause network boot: boom"},
		{name: "copy MAC", action: Action{Kind: CopyMAC, MAC: mac}, want: []string{"CopyText " + mac}},
		{name: "assign keeps hostname and vars", action: Action{Kind: AssignProfile, MAC: mac, Profile: "worker"}, machines: known,
			want: []string{"Machine " + mac, "PutMachine " + mac + " profile=worker hostname=node1 vars=map[k:v]"}},
		{name: "assign creates an unknown machine", action: Action{Kind: AssignProfile, MAC: mac, Profile: "worker"},
			want: []string{"Machine " + mac, "PutMachine " + mac + " profile=worker hostname= vars=map[]"}},
		{name: "assign does not overwrite what it could not read", action: Action{Kind: AssignProfile, MAC: mac, Profile: "worker"},
			fail: map[string]error{"Machine": boom}, want: []string{"Machine " + mac}, wantErr: "Could not assign worker to " + mac + ": boom"},
		{name: "show timeline", action: Action{Kind: ShowTimeline, MAC: mac},
			want: []string{"Timeline " + mac + " 500", `ShowText timeline-902b3414f66a "pixie: boot timeline of 90:2b:34:14:f6:6a (2 events, oldest first)"`}},
		{name: "timeline unavailable", action: Action{Kind: ShowTimeline, MAC: mac}, fail: map[string]error{"Timeline": boom},
			want: []string{"Timeline " + mac + " 500"}, wantErr: "Could not show the timeline of " + mac + ": boom"},
		{name: "forget", action: Action{Kind: ForgetMachine, MAC: mac}, want: []string{"DeleteMachine " + mac}},
		{name: "open data folder", action: Action{Kind: OpenDataFolder, Path: "/var/lib/pixie"}, want: []string{"Open /var/lib/pixie"}},
		{name: "show logs", action: Action{Kind: ShowLogs}, want: []string{"ShowLogs"}},
		{name: "install service", action: Action{Kind: InstallService}, want: []string{"InstallService"}},
		{name: "install cancelled", action: Action{Kind: InstallService}, fail: map[string]error{"InstallService": boom},
			want: []string{"InstallService"}, wantErr: "Could not install the service: boom"},
		{name: "quit", action: Action{Kind: Quit}, wantQuit: true},
		{name: "login item without one here", action: Action{Kind: LoginItemOn}, wantErr: "Could not make pixie's menu start at login: not available here (run the menu as yourself, not as root)"},
		{name: "nothing", action: Action{}},
		{name: "unknown", action: Action{Kind: Kind(99)}, wantErr: "unknown menu action kind(99)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{machines: tt.machines, fail: tt.fail}
			h := Handler{API: r, Desktop: r, Quit: func() { r.quits++ }}
			err := h.Do(context.Background(), tt.action)
			if diff := cmp.Diff(tt.want, r.calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("err = %v", err)
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
			if (r.quits == 1) != tt.wantQuit {
				t.Errorf("quit called %d times, want %v", r.quits, tt.wantQuit)
			}
		})
	}
}

// find returns the item reached by following titles (each a prefix of an
// item's title) from the top of the menu.
func find(t *testing.T, items []Item, titles ...string) Item {
	t.Helper()
	var it Item
	for _, title := range titles {
		found := false
		for _, c := range items {
			if !c.Separator && !c.Hidden && strings.HasPrefix(c.Title, title) {
				it, items, found = c, c.Children, true
				break
			}
		}
		if !found {
			t.Fatalf("no item %q in menu:\n%s", title, text(items))
		}
	}
	return it
}

// TestClicks clicks items of built menus: what the person sees is what
// gets called.
func TestClicks(t *testing.T) {
	paused := serving()
	paused.Paused = true
	st := State{Status: serving(), Profiles: profiles(), Now: now,
		Boots: []api.BootSummary{boot(mac, "ignition", time.Minute, true, "first-time", "node1")}}
	tests := []struct {
		name string
		st   State
		path []string
		want []string
	}{
		{"toggle while serving", st, []string{TitleToggle}, []string{"Pause"}},
		{"toggle while paused", State{Status: paused, Now: now}, []string{TitleToggle}, []string{"Resume"}},
		{"copy", st, []string{mac, TitleCopyMAC}, []string{"CopyText " + mac}},
		{"assign", st, []string{mac, TitleAssign, "worker"}, []string{"Machine " + mac, "PutMachine " + mac + " profile=worker hostname=node1 vars=map[]"}},
		{"forget", st, []string{mac, TitleForget}, []string{"DeleteMachine " + mac}},
		{"install", st, []string{TitleInstallService}, []string{"InstallService"}},
		{"data folder", st, []string{TitleOpenData}, []string{"Open /var/lib/pixie"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it := find(t, Build(tt.st).Items, tt.path...)
			if !it.Enabled {
				t.Fatalf("%q is disabled", it.Title)
			}
			r := &recorder{machines: map[string]api.Machine{mac: {MAC: mac, Profile: "first-time", Hostname: "node1"}}}
			if err := (Handler{API: r, Desktop: r}).Do(context.Background(), it.Action); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, r.calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFormatTimeline(t *testing.T) {
	r := &recorder{}
	es, _ := r.Timeline(context.Background(), mac, 0)
	got := FormatTimeline(mac, es)
	want := `pixie: boot timeline of 90:2b:34:14:f6:6a (2 events, oldest first)

TIME                 STAGE       IP         ARCH     DETAIL
2026-03-04 15:00:00  DHCP offer  10.2.0.50  efi-x64  proxy offer
2026-03-04 15:00:30  Ignition ✓  -          -        config served
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("timeline (-want +got):\n%s", diff)
	}
	if got := FormatTimeline(mac, nil); !strings.Contains(got, "No boot events recorded.") {
		t.Errorf("empty timeline = %q", got)
	}
}
