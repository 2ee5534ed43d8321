package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/api"
)

func TestAllowed(t *testing.T) {
	cases := []struct {
		name      string
		uid       uint32
		groups    []string
		socketGID string
		want      bool
	}{
		{"root", 0, nil, "1001", true},
		{"root, socket root-only", 0, nil, "", true},
		{"member", 1000, []string{"1000", "27", "1001"}, "1001", true},
		{"not a member", 1000, []string{"1000", "27"}, "1001", false},
		{"no groups", 1234, nil, "1001", false},
		{"socket root-only", 1000, []string{"1000", "1001"}, "", false},
		{"nobody", 65534, []string{"65534"}, "0", false},
	}
	for _, tc := range cases {
		if got := allowed(tc.uid, tc.groups, tc.socketGID); got != tc.want {
			t.Errorf("%s: allowed(%d, %v, %q) = %v, want %v", tc.name, tc.uid, tc.groups, tc.socketGID, got, tc.want)
		}
	}
}

func TestRefusal(t *testing.T) {
	cases := []struct {
		goos, user, group string
		groupAccess       bool
		want              string
	}{
		{"linux", "alice", "pixie", true, "uid 1234 is not root or in group pixie: add the user to the group (sudo usermod -aG pixie alice) or use sudo"},
		{"linux", "", "pixie", true, "uid 1234 is not root or in group pixie: add the user to the group (sudo usermod -aG pixie USER) or use sudo"},
		{"darwin", "bob", "admin", true, "uid 1234 is not root or in group admin: add the user to the group (sudo dseditgroup -o edit -a bob -t user admin) or use sudo"},
		{"linux", "alice", "root", false, "uid 1234 is not root, and this pixie socket is for root only: use sudo (or create the group pixie and restart pixie)"},
	}
	for _, tc := range cases {
		if got := refusal(tc.goos, 1234, tc.user, tc.group, tc.groupAccess); got != tc.want {
			t.Errorf("refusal(%s, %q, %q, %v)\n got %q\nwant %q", tc.goos, tc.user, tc.group, tc.groupAccess, got, tc.want)
		}
	}
}

// childSocketEnv tells the test binary, re-executed as another user, to
// call the socket it names and print the outcome as JSON.
const childSocketEnv = "PIXIE_CONTROL_TEST_CHILD_SOCKET"

// TestChildClient is the child half of TestOtherUID*: it does nothing in a
// normal run.
func TestChildClient(t *testing.T) {
	sock := os.Getenv(childSocketEnv)
	if sock == "" {
		t.Skip("only runs as the child of TestOtherUID*")
	}
	out := struct {
		UID     int
		Status  int
		Code    string
		Message string
	}{UID: os.Getuid()}
	_, err := api.NewClient(sock).Status(context.Background())
	var ae *api.Error
	switch {
	case err == nil:
		out.Status = http.StatusOK
	case errors.As(err, &ae):
		out.Status, out.Code, out.Message = ae.Status, ae.Code, ae.Message
	default:
		out.Message = err.Error()
	}
	json.NewEncoder(os.Stdout).Encode(out)
}

type childResult struct {
	UID     int
	Status  int
	Code    string
	Message string
}

// runAsOtherUser re-executes the test binary as uid 65534 with the given
// gid to run TestChildClient against env's socket.
func runAsOtherUser(t *testing.T, env *testEnv, gid uint32) childResult {
	t.Helper()
	var res childResult
	line := runChild(t, env, gid, "TestChildClient", childSocketEnv)
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		t.Fatalf("child output %q: %v", line, err)
	}
	if res.UID != 65534 {
		t.Fatalf("child ran as uid %d, want 65534", res.UID)
	}
	return res
}

// runChild re-executes the test binary as uid 65534 with the given gid,
// running only the test named child with env's socket in the environment
// variable sockEnv, and returns the first line it printed. The socket is
// opened up (0777) for this test only: the file permissions must let the
// child connect so that the server's own check is what is tested.
func runChild(t *testing.T, env *testEnv, gid uint32, child, sockEnv string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a client as another uid (run the tests with sudo to cover this)")
	}
	// The go test binary lives in a 0700 build directory; copy it where
	// the other user can run it.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := shortTempDir(t)
	bin := filepath.Join(dir, "control.test")
	copyFile(t, self, bin, 0o755)
	for p, mode := range map[string]os.FileMode{dir: 0o755, filepath.Dir(env.socket): 0o755, env.socket: 0o777} {
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-test.run=^"+child+"$", "-test.count=1")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), sockEnv+"="+env.socket)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: gid, Groups: []uint32{}}}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child as uid 65534: %v\n%s", err, out)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return line
}

func TestOtherUIDIsRefused(t *testing.T) {
	env := startServer(t, nil)
	res := runAsOtherUser(t, env, 65534)
	if res.Status != http.StatusForbidden || res.Code != api.CodeForbidden {
		t.Fatalf("uid 65534 got %+v, want 403 forbidden", res)
	}
	want := fmt.Sprintf("uid 65534 is not root or in group %s: add the user to the group", currentGroup(t))
	if !strings.Contains(res.Message, want) {
		t.Errorf("refusal %q does not contain %q", res.Message, want)
	}
	if !strings.Contains(env.logs.String(), "control connection refused") {
		t.Error("refusal not logged")
	}
}

// A process running with the socket's group is let in: that is how a
// member of the pixie group gets access.
func TestOtherUIDInSocketGroupIsAllowed(t *testing.T) {
	env := startServer(t, nil)
	res := runAsOtherUser(t, env, uint32(os.Getgid()))
	if res.Status != http.StatusOK {
		t.Fatalf("uid 65534 with the socket's gid got %+v, want 200", res)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
