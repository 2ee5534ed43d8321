package control

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pixie-boot/pixie/daemon/api"
)

// snapshot is everything a write request could change: the store's
// machines and profiles, and the pause state.
type snapshot struct {
	Machines  []api.Machine
	Profiles  []api.Profile
	Paused    bool
	SetPaused int32
}

func (e *testEnv) snapshot(t *testing.T) snapshot {
	t.Helper()
	ctx := context.Background()
	ms, err := e.client.Machines(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := e.client.Profiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return snapshot{Machines: ms, Profiles: ps, Paused: e.paused.Load(), SetPaused: e.setPaused.Load()}
}

// seed gives every write endpoint something it could change.
func (e *testEnv) seed(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.client.CreateProfile(ctx, api.Profile{Name: "victim", Kernel: "k/vmlinuz", Args: "console=ttyS0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.PutMachine(ctx, api.Machine{MAC: "52:54:00:00:00:01", Hostname: "node1", Profile: "victim", Vars: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
}

// rawSend writes one request over a fresh connection to the socket, with
// the body from a goroutine of its own, and reads the answer alongside: a
// server that answers a huge body early and hangs up must still be heard,
// whatever happens to the rest of the upload.
func (e *testEnv) rawSend(t *testing.T, method, path string, body []byte) (int, api.Error) {
	t.Helper()
	c, err := net.DialTimeout("unix", e.socket, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: pixie\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", method, path, len(body))
	go func() {
		if _, err := io.WriteString(c, head); err != nil {
			return
		}
		c.Write(body) // may fail once the server has answered and closed
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s %s (%d-byte body): no answer: %v", method, path, len(body), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var ae api.Error
	if resp.StatusCode >= 300 {
		if err := json.Unmarshal(b, &ae); err != nil {
			t.Errorf("%s %s: error body is not JSON: %q", method, path, b)
		}
	}
	return resp.StatusCode, ae
}

// writeEndpoints are every endpoint that changes something, and whether it
// takes a JSON body.
func writeEndpoints() []struct {
	method, path string
	takesBody    bool
} {
	return []struct {
		method, path string
		takesBody    bool
	}{
		{"PUT", "/v1/machines/52:54:00:00:00:01", true},
		{"PUT", "/v1/machines/52:54:00:00:00:02", true},
		{"POST", "/v1/profiles", true},
		{"PUT", "/v1/profiles/victim", true},
		{"DELETE", "/v1/machines/52:54:00:00:00:01", false},
		{"DELETE", "/v1/profiles/victim", false},
		{"POST", "/v1/pause", false},
		{"POST", "/v1/resume", false},
	}
}

// TestHostileBodies sends every write endpoint bodies that are broken,
// hostile or enormous. Each gets a 4xx with a message that says what is
// wrong, and nothing in the store or the pause state changes.
func TestHostileBodies(t *testing.T) {
	env := startServer(t, nil)
	env.seed(t)
	before := env.snapshot(t)

	huge := make([]byte, 10<<20) // 10 MB: ten times the limit
	copy(huge, `{"hostname":"`)
	for i := len(`{"hostname":"`); i < len(huge); i++ {
		huge[i] = 'x'
	}
	bodies := []struct {
		name string
		body string
		// msg is what the answer to an endpoint that takes a body says;
		// status 0 means 400.
		status int
		msg    string
	}{
		{"truncated", `{"hostname":`, 0, "malformed request body"},
		{"not JSON", "\x00\xff\xfe garbage", 0, "malformed request body"},
		{"array", `[{"hostname":"x"}]`, 0, "cannot unmarshal array"},
		{"string", `"hostname"`, 0, "cannot unmarshal string"},
		{"wrong field type", `{"vars":42}`, 0, "malformed request body"},
		{"unknown field", `{"path":"/etc/shadow"}`, 0, `unknown field "path"`},
		{"two objects", `{}{}`, 0, "after the JSON object"},
		{"invalid UTF-8 and NUL", "{\"hostname\":\"\xff\x00\"}", 0, "malformed request body"},
		{"deep nesting", strings.Repeat("[", 100000) + strings.Repeat("]", 100000), 0, "malformed request body"},
		{"10 MB", string(huge), http.StatusRequestEntityTooLarge, "larger than 1024 KiB"},
	}
	for _, ep := range writeEndpoints() {
		for _, b := range bodies {
			t.Run(ep.method+ep.path+"/"+b.name, func(t *testing.T) {
				code, ae := env.rawSend(t, ep.method, ep.path, []byte(b.body))
				switch {
				case code < 400 || code >= 500:
					t.Fatalf("got %d %+v, want a 4xx", code, ae)
				case ae.Message == "":
					t.Errorf("%d without a message", code)
				case ep.takesBody:
					want := b.status
					if want == 0 {
						want = http.StatusBadRequest
					}
					if code != want || !strings.Contains(ae.Message, b.msg) {
						t.Errorf("got %d %q, want %d containing %q", code, ae.Message, want, b.msg)
					}
				default:
					if !strings.Contains(ae.Message, "takes no") {
						t.Errorf("got %d %q, want a refusal saying the endpoint takes no body", code, ae.Message)
					}
				}
			})
		}
	}
	if diff := cmp.Diff(before, env.snapshot(t)); diff != "" {
		t.Errorf("hostile requests changed the daemon's state (-before +after):\n%s", diff)
	}
	// The endpoints still work for a well-formed request afterwards.
	if code, ae := env.rawSend(t, "POST", "/v1/pause", nil); code != http.StatusOK {
		t.Errorf("pause without a body: %d %+v", code, ae)
	}
}

// TestUnknownMethodsAndPaths: anything that is not an endpoint gets a JSON
// 404 or 405 and changes nothing.
func TestUnknownMethodsAndPaths(t *testing.T) {
	env := startServer(t, nil)
	env.seed(t)
	before := env.snapshot(t)
	for _, tc := range []struct{ method, path string }{
		{"PATCH", "/v1/machines/52:54:00:00:00:01"},
		{"POST", "/v1/machines/52:54:00:00:00:01"},
		{"DELETE", "/v1/machines"},
		{"DELETE", "/v1/status"},
		{"PUT", "/v1/status"},
		{"GET", "/v1/pause"},
		{"DELETE", "/v1/pause"},
		{"POST", "/v1/boots"},
		{"PUT", "/v1/profiles"},
		{"DELETE", "/v1/profiles"},
		{"POST", "/v1/events"},
		{"GET", "/v2/status"},
		{"GET", "/"},
		{"GET", "/v1/machines/52:54:00:00:00:01/timeline/extra"},
		{"GET", "/v1/../v1/status/../../etc/passwd"},
		{"DELETE", "/v1/machines/../profiles/victim"},
		{"GET", "//v1/status"},
		{"FROB", "/v1/status"},
		{"OPTIONS", "/v1/profiles/victim"},
	} {
		code, ae := env.rawSend(t, tc.method, tc.path, nil)
		if code != http.StatusNotFound && code != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: %d %+v, want 404 or 405", tc.method, tc.path, code, ae)
		}
	}
	if diff := cmp.Diff(before, env.snapshot(t)); diff != "" {
		t.Errorf("unknown requests changed the daemon's state (-before +after):\n%s", diff)
	}
}

// TestRefusedCallerCannotWrite: a caller the server does not allow gets a
// 403 on every write endpoint, and nothing changes. TestAllowUIDOverride
// covers a read; this covers the writes, with and without bodies.
func TestRefusedCallerCannotWrite(t *testing.T) {
	env := startServer(t, nil)
	env.seed(t)
	refused := startServer(t, func(d *Deps) {
		d.Store, d.Hub = env.store, env.hub // the same store behind a stricter door
		d.AllowUID = func(uint32) bool { return false }
	})
	before := env.snapshot(t)
	for _, ep := range writeEndpoints() {
		body := ""
		if ep.takesBody {
			body = `{"name":"victim","kernel":"evil","hostname":"evil"}`
		}
		code, ae := refused.rawSend(t, ep.method, ep.path, []byte(body))
		if code != http.StatusForbidden || ae.Code != api.CodeForbidden || !strings.Contains(ae.Message, "is not allowed") {
			t.Errorf("%s %s as a refused uid: %d %+v, want 403", ep.method, ep.path, code, ae)
		}
	}
	after := env.snapshot(t)
	after.SetPaused += refused.setPaused.Load()
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("a refused caller changed the daemon's state (-before +after):\n%s", diff)
	}
	for _, audit := range []string{"control: machine", "control: profile", "control: network boot"} {
		if strings.Contains(refused.logs.String(), audit) {
			t.Errorf("a refused write was audited as a change:\n%s", refused.logs.String())
		}
	}
}

// childWritesEnv tells the test binary, re-executed as another user, to
// try every write endpoint on the socket it names.
const childWritesEnv = "PIXIE_CONTROL_TEST_CHILD_WRITES"

// TestChildWrites is the child half of TestOtherUIDCannotWrite; it does
// nothing in a normal run. It prints one status code per write endpoint.
func TestChildWrites(t *testing.T) {
	sock := os.Getenv(childWritesEnv)
	if sock == "" {
		t.Skip("only runs as the child of TestOtherUIDCannotWrite")
	}
	env := &testEnv{socket: sock}
	var codes []int
	for _, ep := range writeEndpoints() {
		code, _ := env.rawSend(t, ep.method, ep.path, []byte(`{"hostname":"evil"}`))
		codes = append(codes, code)
	}
	json.NewEncoder(os.Stdout).Encode(codes)
}

// TestOtherUIDCannotWrite runs a real client as uid 65534, not in the
// socket's group, against every write endpoint: all 403, nothing changed.
// The socket file is opened up for the test so that the server's own peer
// credential check is what refuses it.
func TestOtherUIDCannotWrite(t *testing.T) {
	env := startServer(t, nil)
	env.seed(t)
	before := env.snapshot(t)
	line := runChild(t, env, 65534, "TestChildWrites", childWritesEnv)
	var codes []int
	if err := json.Unmarshal([]byte(line), &codes); err != nil {
		t.Fatalf("child output %q: %v", line, err)
	}
	eps := writeEndpoints()
	if len(codes) != len(eps) {
		t.Fatalf("child made %d requests, want %d", len(codes), len(eps))
	}
	for i, code := range codes {
		if code != http.StatusForbidden {
			t.Errorf("%s %s as uid 65534: %d, want 403", eps[i].method, eps[i].path, code)
		}
	}
	if diff := cmp.Diff(before, env.snapshot(t)); diff != "" {
		t.Errorf("another uid changed the daemon's state (-before +after):\n%s", diff)
	}
	if n := strings.Count(env.logs.String(), "control connection refused"); n < len(eps) {
		t.Errorf("%d refusals logged, want %d", n, len(eps))
	}
}
