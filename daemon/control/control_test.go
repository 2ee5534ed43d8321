package control

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/events"
	"github.com/pixie-boot/pixie/daemon/store"
)

func TestStatus(t *testing.T) {
	env := startServer(t, nil)
	st, err := env.client.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !st.Serving || st.Paused || st.Version != "test" {
		t.Errorf("status = %+v", st)
	}
	if st.Socket != env.socket {
		t.Errorf("status socket = %q, want the server fills in %q", st.Socket, env.socket)
	}
}

func TestPauseResume(t *testing.T) {
	env := startServer(t, nil)
	ctx := context.Background()
	st, err := env.client.Pause(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Paused || env.setPaused.Load() != 1 {
		t.Fatalf("after pause: status paused=%v, SetPaused calls=%d", st.Paused, env.setPaused.Load())
	}
	if st, _ := env.client.Status(ctx); !st.Paused {
		t.Error("status after pause is not paused")
	}
	st, err = env.client.Resume(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Paused || env.setPaused.Load() != 2 {
		t.Fatalf("after resume: status paused=%v, SetPaused calls=%d", st.Paused, env.setPaused.Load())
	}
	logs := env.logs.String()
	if !strings.Contains(logs, "network boot paused") || !strings.Contains(logs, fmt.Sprintf("uid=%d", os.Getuid())) {
		t.Errorf("pause was not logged with the caller's uid:\n%s", logs)
	}
}

func TestMachineCRUD(t *testing.T) {
	env := startServer(t, nil)
	ctx := context.Background()
	c := env.client

	m, err := c.PutMachine(ctx, api.Machine{MAC: "90-2B-34-14-F6-6A", Hostname: "node1", Vars: map[string]string{"ssh_key": "ssh-ed25519 AAAA"}})
	if err != nil {
		t.Fatal(err)
	}
	if m.MAC != "90:2b:34:14:f6:6a" || m.Hostname != "node1" || m.CreatedAt.IsZero() {
		t.Errorf("created machine = %+v", m)
	}
	for _, spelling := range []string{"902b.3414.f66a", "902B3414F66A", "90:2b:34:14:f6:6a"} {
		got, err := c.Machine(ctx, spelling)
		if err != nil {
			t.Fatalf("Machine(%q): %v", spelling, err)
		}
		if diff := cmp.Diff(m, got); diff != "" {
			t.Errorf("Machine(%q) differs from what was stored (-put +got):\n%s", spelling, diff)
		}
	}
	if !strings.Contains(env.logs.String(), "machine created") {
		t.Error("machine creation not logged")
	}

	// Replace: profile set, vars cleared.
	m.Profile, m.Vars = store.DefaultProfileName, nil
	m2, err := c.PutMachine(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if m2.Profile != store.DefaultProfileName || len(m2.Vars) != 0 || !m2.CreatedAt.Equal(m.CreatedAt) {
		t.Errorf("updated machine = %+v", m2)
	}
	ms, err := c.Machines(ctx)
	if err != nil || len(ms) != 1 || ms[0].MAC != m.MAC {
		t.Fatalf("Machines = %+v, %v", ms, err)
	}

	_, err = c.PutMachine(ctx, api.Machine{MAC: m.MAC, Profile: "no-such-profile"})
	wantAPIError(t, "unknown profile", err, http.StatusBadRequest, api.CodeInvalid, "does not exist")
	_, err = c.PutMachine(ctx, api.Machine{MAC: m.MAC, Hostname: "bad_host!"})
	wantAPIError(t, "bad hostname", err, http.StatusBadRequest, api.CodeInvalid, "hostname")
	_, err = c.Machine(ctx, "90:2b:34:zz:f6:6a")
	wantAPIError(t, "bad MAC", err, http.StatusBadRequest, api.CodeInvalid, `invalid MAC address "90:2b:34:zz:f6:6a"`)
	_, err = c.PutMachine(ctx, api.Machine{MAC: "1234"})
	wantAPIError(t, "short MAC", err, http.StatusBadRequest, api.CodeInvalid, "not 6 bytes")

	if err := c.DeleteMachine(ctx, "90:2B:34:14:F6:6A"); err != nil {
		t.Fatal(err)
	}
	_, err = c.Machine(ctx, m.MAC)
	wantAPIError(t, "get after delete", err, http.StatusNotFound, api.CodeNotFound, "not found")
	err = c.DeleteMachine(ctx, m.MAC)
	wantAPIError(t, "delete twice", err, http.StatusNotFound, api.CodeNotFound, "not found")
	if ms, _ := c.Machines(ctx); ms == nil || len(ms) != 0 {
		t.Errorf("Machines after delete = %#v, want empty (not nil: JSON [])", ms)
	}
}

func TestMachineBodyMACMustMatchURL(t *testing.T) {
	env := startServer(t, nil)
	code, ae := env.raw(t, http.MethodPut, "/v1/machines/90:2b:34:14:f6:6a", strings.NewReader(`{"mac":"52:54:00:12:34:56"}`))
	if code != http.StatusBadRequest || ae.Code != api.CodeInvalid {
		t.Errorf("mismatched MAC: %d %+v", code, ae)
	}
	if ms, _ := env.client.Machines(context.Background()); len(ms) != 0 {
		t.Errorf("machines = %+v, want none", ms)
	}
}

func TestProfileCRUD(t *testing.T) {
	env := startServer(t, nil)
	ctx := context.Background()
	c := env.client
	in := api.Profile{
		Name: "fcos", OS: "fedora-coreos", Description: "Fedora CoreOS live",
		Kernel: "fcos/kernel", Initrds: []string{"fcos/initramfs.img", "fcos/rootfs.img"},
		Args:      "ignition.firstboot ignition.platform.id=metal",
		Ignition:  `{"ignition":{"version":"3.4.0"}}`,
		PhoneHome: "https://inventory.example/up?mac={{.MAC}}",
		Vars:      map[string]string{"role": "worker"},
	}
	p, err := c.CreateProfile(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	ignoreTimes := cmpopts.IgnoreFields(api.Profile{}, "CreatedAt", "UpdatedAt")
	if diff := cmp.Diff(in, p, ignoreTimes); diff != "" {
		t.Errorf("created profile (-sent +got):\n%s", diff)
	}
	_, err = c.CreateProfile(ctx, in)
	wantAPIError(t, "create twice", err, http.StatusConflict, api.CodeExists, "already exists")
	_, err = c.CreateProfile(ctx, api.Profile{Name: "nokernel"})
	wantAPIError(t, "no kernel", err, http.StatusBadRequest, api.CodeInvalid, "no kernel")
	_, err = c.CreateProfile(ctx, api.Profile{Name: "badphone", Kernel: "k", PhoneHome: "ftp://x/up"})
	wantAPIError(t, "bad phone-home", err, http.StatusBadRequest, api.CodeInvalid, "phone-home")
	if def, err := c.CreateProfile(ctx, api.Profile{Name: "defphone", Kernel: "k"}); err != nil || def.PhoneHome != "default" {
		t.Errorf("a profile without a phone-home URL = %+v, %v; want phone_home default", def, err)
	}
	if err := c.DeleteProfile(ctx, "defphone"); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateProfile(ctx, api.Profile{Name: "escape", Kernel: "../../etc/shadow"})
	wantAPIError(t, "path escape", err, http.StatusBadRequest, api.CodeInvalid, "relative path inside the asset store")

	p.Kernel, p.Initrds = "fcos/kernel-2", nil
	p2, err := c.UpdateProfile(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if p2.Kernel != "fcos/kernel-2" || len(p2.Initrds) != 0 || p2.Description != in.Description || p2.PhoneHome != in.PhoneHome || p2.Vars["role"] != "worker" {
		t.Errorf("updated profile = %+v", p2)
	}
	got, err := c.Profile(ctx, "fcos")
	if err != nil || got.Kernel != "fcos/kernel-2" {
		t.Errorf("Profile after update = %+v, %v", got, err)
	}
	_, err = c.UpdateProfile(ctx, api.Profile{Name: "ghost", Kernel: "k"})
	wantAPIError(t, "update missing", err, http.StatusNotFound, api.CodeNotFound, "not found")
	_, err = c.Profile(ctx, "ghost")
	wantAPIError(t, "get missing", err, http.StatusNotFound, api.CodeNotFound, "not found")

	ps, err := c.Profiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	if diff := cmp.Diff([]string{"fcos", store.DefaultProfileName}, names); diff != "" {
		t.Errorf("profile names (-want +got):\n%s", diff)
	}

	if _, err := c.PutMachine(ctx, api.Machine{MAC: "52:54:00:12:34:56", Profile: "fcos"}); err != nil {
		t.Fatal(err)
	}
	err = c.DeleteProfile(ctx, "fcos")
	wantAPIError(t, "delete in use", err, http.StatusConflict, api.CodeInUse, "assigned to 1 machine")
	err = c.DeleteProfile(ctx, store.DefaultProfileName)
	wantAPIError(t, "delete default", err, http.StatusConflict, api.CodeInUse, "default profile")
	if err := c.DeleteMachine(ctx, "52:54:00:12:34:56"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteProfile(ctx, "fcos"); err != nil {
		t.Fatal(err)
	}
	_, err = c.Profile(ctx, "fcos")
	wantAPIError(t, "get deleted", err, http.StatusNotFound, api.CodeNotFound, "not found")
	if logs := env.logs.String(); !strings.Contains(logs, "profile created") || !strings.Contains(logs, "profile removed") {
		t.Errorf("profile changes not logged:\n%s", logs)
	}
}

func TestProfileRenameRefused(t *testing.T) {
	env := startServer(t, nil)
	code, ae := env.raw(t, http.MethodPut, "/v1/profiles/"+store.DefaultProfileName, strings.NewReader(`{"name":"other","kernel":"k"}`))
	if code != http.StatusBadRequest || !strings.Contains(ae.Message, "cannot be renamed") {
		t.Errorf("rename: %d %+v", code, ae)
	}
}

// record stores an event through the hub, as the boot servers do.
func record(env *testEnv, mac string, stage events.Stage, detail string) {
	env.hub.Record(context.Background(), events.Event{MAC: mac, IP: "10.0.0.9", Arch: "efi-x64", Stage: stage, Detail: detail})
}

func TestBootsAndTimeline(t *testing.T) {
	env := startServer(t, nil)
	ctx := context.Background()
	c := env.client
	const a, b = "52:54:00:00:00:0a", "52:54:00:00:00:0b"
	if _, err := c.PutMachine(ctx, api.Machine{MAC: a, Hostname: "alpha"}); err != nil {
		t.Fatal(err)
	}
	record(env, a, events.StageDHCP, "offer")
	record(env, b, events.StageDHCP, "offer")
	record(env, a, events.StageTFTP, "ipxe.efi")
	record(env, a, events.StageScript, "boot.ipxe")

	boots, err := c.Boots(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(boots) != 2 || boots[0].MAC != a || boots[1].MAC != b {
		t.Fatalf("boots = %+v; want a then b", boots)
	}
	if got := boots[0]; got.Last.Stage != "script" || !got.Known || got.Hostname != "alpha" || got.Profile != store.DefaultProfileName {
		t.Errorf("boots[0] = %+v", got)
	}
	if boots[1].Known {
		t.Errorf("boots[1] known = true for a MAC without a record")
	}
	if one, err := c.Boots(ctx, 1); err != nil || len(one) != 1 {
		t.Errorf("Boots(1) = %d rows, %v", len(one), err)
	}

	tl, err := c.Timeline(ctx, "52-54-00-00-00-0A", 0)
	if err != nil {
		t.Fatal(err)
	}
	var stages []string
	for _, e := range tl {
		stages = append(stages, e.Stage)
	}
	if diff := cmp.Diff([]string{"dhcp", "tftp", "script"}, stages); diff != "" {
		t.Errorf("timeline stages (-want +got):\n%s", diff)
	}
	if tl[0].IP != "10.0.0.9" || tl[0].Arch != "efi-x64" || tl[0].ID == 0 || tl[0].Time.IsZero() {
		t.Errorf("timeline[0] = %+v", tl[0])
	}
	if last2, _ := c.Timeline(ctx, a, 2); len(last2) != 2 || last2[1].Stage != "script" {
		t.Errorf("Timeline(limit 2) = %+v; want the newest two, oldest first", last2)
	}
	// A step served by another instance sharing the store says which.
	env.hub.Record(ctx, events.Event{MAC: a, Stage: events.StageIgnition, Instance: "boot-b"})
	if last, _ := c.Timeline(ctx, a, 1); len(last) != 1 || last[0].Instance != "boot-b" {
		t.Errorf("timeline of a step another instance served = %+v; want instance boot-b", last)
	}
	if code, ae := env.raw(t, http.MethodGet, "/v1/boots?limit=lots", nil); code != http.StatusBadRequest || !strings.Contains(ae.Message, "limit") {
		t.Errorf("bad limit: %d %+v", code, ae)
	}
	_, err = c.Timeline(ctx, "not-a-mac", 0)
	wantAPIError(t, "timeline bad MAC", err, http.StatusBadRequest, api.CodeInvalid, "invalid MAC address")
}

// next waits for one event from a stream.
func next(t *testing.T, s *api.EventStream) api.Event {
	t.Helper()
	select {
	case e, ok := <-s.Events():
		if !ok {
			t.Fatalf("stream ended: %v", s.Err())
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return api.Event{}
}

func TestEventStreamLiveAndCatchUp(t *testing.T) {
	env := startServer(t, nil)
	ctx := context.Background()
	const mac = "52:54:00:00:00:01"
	record(env, mac, events.StageDHCP, "before")

	live, err := env.client.Events(ctx, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	// Live-only: the event recorded before connecting is not sent. The
	// subscription is made before the response headers, which Events
	// waited for, so this one cannot be missed.
	record(env, mac, events.StageTFTP, "after subscribe")
	if e := next(t, live); e.Detail != "after subscribe" || e.Stage != "tftp" || e.MAC != mac || e.ID != 2 {
		t.Errorf("live event = %+v", e)
	}

	// Catch up from 0: both stored events in order, then live ones.
	all, err := env.client.Events(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	for _, want := range []string{"before", "after subscribe"} {
		if e := next(t, all); e.Detail != want {
			t.Errorf("catch-up event = %+v, want detail %q", e, want)
		}
	}
	record(env, mac, events.StageScript, "third")
	if e := next(t, all); e.Detail != "third" || e.ID != 3 {
		t.Errorf("live after catch-up = %+v", e)
	}
	if e := next(t, live); e.Detail != "third" {
		t.Errorf("first stream's next event = %+v", e)
	}

	// Catch up from the middle.
	mid, err := env.client.Events(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer mid.Close()
	if e := next(t, mid); e.ID != 3 {
		t.Errorf("after=2 first event = %+v, want ID 3", e)
	}
	if code, _ := env.raw(t, http.MethodGet, "/v1/events?after=-5", nil); code != http.StatusBadRequest {
		t.Errorf("after=-5: status %d, want 400", code)
	}
}

func TestEventStreamCatchesUpAfterBurst(t *testing.T) {
	// No keep-alive catch-up during the test: the lag detection must do it.
	env := startServer(t, func(d *Deps) { d.KeepAlive = time.Hour })
	s, err := env.client.Events(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// More events than the hub buffers for a subscriber that is not
	// reading (and than the socket buffers hold): the stream must re-read
	// the dropped ones from the store.
	const n = 3000
	for i := range n {
		record(env, "52:54:00:00:00:02", events.StageDHCP, fmt.Sprint(i))
	}
	for i := range n {
		if e := next(t, s); e.ID != int64(i+1) {
			t.Fatalf("event %d has ID %d: the stream lost or reordered events", i, e.ID)
		}
	}
}

func TestServeStopsWithOpenStream(t *testing.T) {
	dir := shortTempDir(t)
	st, err := store.Open(context.Background(), dir+"/pixie.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	hub := events.NewHub(st, nil)
	srv := New(Deps{Store: st, Hub: hub, Status: func() api.Status { return api.Status{} }})
	sock := dir + "/s.sock"
	ln, err := srv.Listen(sock, currentGroup(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	stream, err := api.NewClient(sock).Events(context.Background(), -1)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve returned %v, want nil after cancel", err)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("Serve did not stop within 4 s with an event stream open")
	}
	for range stream.Events() {
	}
	if err := stream.Err(); err != api.ErrStreamClosed {
		t.Errorf("stream ended with %v, want ErrStreamClosed", err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket still exists after Serve: %v", err)
	}
}

func TestBadRequestsChangeNothing(t *testing.T) {
	env := startServer(t, nil)
	ctx := context.Background()
	huge := `{"name":"big","kernel":"k","ignition":"` + strings.Repeat("x", 2<<20) + `"}`
	cases := []struct {
		name, method, path, body string
		status                   int
		msg                      string
	}{
		{"malformed", "PUT", "/v1/machines/52:54:00:00:00:01", `{"hostname":`, 400, "malformed request body: unexpected EOF"},
		{"wrong type", "PUT", "/v1/machines/52:54:00:00:00:01", `{"hostname":42}`, 400, "cannot unmarshal number"},
		{"unknown field", "PUT", "/v1/machines/52:54:00:00:00:01", `{"hostname":"a","colour":"red"}`, 400, `unknown field "colour"`},
		{"trailing data", "POST", "/v1/profiles", `{"name":"x","kernel":"k"} {"name":"y"}`, 400, "after the JSON object"},
		{"empty", "POST", "/v1/profiles", ``, 400, "empty"},
		{"oversized", "POST", "/v1/profiles", huge, 413, "larger than 1024 KiB"},
		{"no such endpoint", "GET", "/v1/nothing", ``, 404, "no such control API endpoint"},
	}
	for _, tc := range cases {
		code, ae := env.raw(t, tc.method, tc.path, strings.NewReader(tc.body))
		if code != tc.status || !strings.Contains(ae.Message, tc.msg) {
			t.Errorf("%s: got %d %q, want %d containing %q", tc.name, code, ae.Message, tc.status, tc.msg)
		}
	}
	if ms, err := env.client.Machines(ctx); err != nil || len(ms) != 0 {
		t.Errorf("machines after bad requests = %+v, %v", ms, err)
	}
	if ps, err := env.client.Profiles(ctx); err != nil || len(ps) != 1 {
		t.Errorf("profiles after bad requests = %d, %v; want only the default", len(ps), err)
	}
}

func TestAllowUIDOverride(t *testing.T) {
	env := startServer(t, func(d *Deps) { d.AllowUID = func(uint32) bool { return false } })
	_, err := env.client.Status(context.Background())
	wantAPIError(t, "refused uid", err, http.StatusForbidden, api.CodeForbidden, fmt.Sprintf("uid %d", os.Getuid()))
}
