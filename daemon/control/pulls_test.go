package control

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/images"
	"github.com/pixie-boot/pixie/daemon/pulls"
)

// pullEnv is a control server with an image pull manager over a temporary
// asset store, and a fixture HTTP server on 127.0.0.1 as the image source.
type pullEnv struct {
	*testEnv
	assets string
	// release lets the slow file's second half go.
	release chan struct{}
	srv     *httptest.Server
	kernel  []byte
}

func startPullEnv(t *testing.T) *pullEnv {
	t.Helper()
	pe := &pullEnv{assets: filepath.Join(t.TempDir(), "assets"), release: make(chan struct{}),
		kernel: []byte(strings.Repeat("k", 256<<10))}
	pe.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "262144")
		if strings.HasSuffix(r.URL.Path, "/slow/vmlinuz") {
			// Half now, the rest when the test says so (or never).
			w.Write(pe.kernel[:128<<10])
			w.(http.Flusher).Flush()
			select {
			case <-pe.release:
			case <-r.Context().Done():
				return
			}
			w.Write(pe.kernel[128<<10:])
			return
		}
		w.Write(pe.kernel)
	}))
	t.Cleanup(pe.srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	mgr := pulls.New(ctx, pulls.Config{Assets: pe.assets, Configure: func(p *images.Puller) {
		p.Proxy = func(*http.Request) (*url.URL, error) { return nil, nil }
		p.Attempts = 1
	}})
	t.Cleanup(func() { cancel(); mgr.Wait() })
	pe.testEnv = startServer(t, func(d *Deps) { d.Pulls = mgr })
	return pe
}

func (pe *pullEnv) request(name, path, sum string) api.PullRequest {
	if sum == "" {
		s := sha256.Sum256(pe.kernel)
		sum = hex.EncodeToString(s[:])
	}
	return api.PullRequest{OS: "generic", Name: name, Files: []api.GenericFile{{URL: pe.srv.URL + path, SHA256: sum}}}
}

// await reads the stream until a snapshot of pull id satisfies ok.
func await(t *testing.T, s *api.PullStream, id string, what string, ok func(api.Pull) bool) api.Pull {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case p, open := <-s.Pulls():
			if !open {
				t.Fatalf("waiting for %s: the stream ended: %v", what, s.Err())
			}
			if p.ID == id && ok(p) {
				return p
			}
		case <-timeout:
			t.Fatalf("no pull event with %s", what)
		}
	}
}

// A pull starts, a second request joins it, progress arrives as events,
// the pull goes on after its client has gone, and the image ends up in the
// list.
func TestPullStartJoinProgressDone(t *testing.T) {
	pe := startPullEnv(t)
	ctx := context.Background()
	starter := api.NewClient(pe.socket)
	stream, err := starter.PullStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, err := starter.StartPull(ctx, pe.request("tiny", "/slow/vmlinuz", ""))
	if err != nil {
		t.Fatal(err)
	}
	if p.State != api.PullRunning || p.Key != "generic/tiny" || p.Joined {
		t.Fatalf("started: %+v", p)
	}
	half := await(t, stream, p.ID, "half the kernel", func(u api.Pull) bool {
		return len(u.Files) == 1 && u.Files[0].Done >= 128<<10 && u.Files[0].State == "downloading"
	})
	if half.Files[0].Total != 256<<10 || half.Files[0].Name != "vmlinuz" {
		t.Errorf("progress: %+v", half.Files)
	}
	// The same image again: the running pull, not a second one.
	j, err := pe.client.StartPull(ctx, pe.request("tiny", "/slow/vmlinuz", ""))
	if err != nil || !j.Joined || j.ID != p.ID {
		t.Fatalf("second request: %+v, %v; want it to join %s", j, err, p.ID)
	}
	if ps, _ := pe.client.Pulls(ctx); len(ps) != 1 || ps[0].State != api.PullRunning {
		t.Fatalf("list while running: %+v", ps)
	}
	// The client that started it goes away; the daemon goes on.
	stream.Close()
	// (the stream was its only open request)
	close(pe.release)

	deadline := time.Now().Add(30 * time.Second)
	for p.State == api.PullRunning && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		if p, err = pe.client.Pull(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
	}
	if p.State != api.PullDone || p.Result == nil || p.Result.Image.ID != "generic/tiny" || len(p.Result.Downloaded) != 1 {
		t.Fatalf("ended: %+v", p)
	}
	imgs, err := pe.client.Images(ctx)
	if err != nil || len(imgs) != 1 || imgs[0].ID != "generic/tiny" || imgs[0].Kernel != "generic/tiny/vmlinuz" || imgs[0].Files[0].Size != 256<<10 {
		t.Fatalf("images: %+v, %v", imgs, err)
	}
	if err := pe.client.RemoveImage(ctx, "generic/tiny"); err != nil {
		t.Fatal(err)
	}
	if imgs, _ := pe.client.Images(ctx); len(imgs) != 0 {
		t.Errorf("after rm: %+v", imgs)
	}
}

// A cancelled pull stops, writes no image, and the next request starts a
// new pull.
func TestPullCancel(t *testing.T) {
	pe := startPullEnv(t)
	ctx := context.Background()
	stream, err := pe.client.PullStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	p, err := pe.client.StartPull(ctx, pe.request("stuck", "/slow/vmlinuz", ""))
	if err != nil {
		t.Fatal(err)
	}
	await(t, stream, p.ID, "a started download", func(u api.Pull) bool { return len(u.Files) == 1 && u.Files[0].Done > 0 })
	// Removing an image that is being pulled is refused.
	if err := pe.client.RemoveImage(ctx, "generic/stuck"); !api.IsCode(err, api.CodeInUse) {
		t.Errorf("rm during the pull: %v", err)
	}
	c, err := pe.client.CancelPull(ctx, "generic/stuck") // by image key
	if err != nil || c.ID != p.ID || c.State != api.PullCancelled || !strings.Contains(c.Error, "cancelled") {
		t.Fatalf("cancel: %+v, %v", c, err)
	}
	await(t, stream, p.ID, "the cancelled state", func(u api.Pull) bool { return u.State == api.PullCancelled })
	if _, err := os.Stat(filepath.Join(pe.assets, "generic/stuck", images.ManifestName)); !os.IsNotExist(err) {
		t.Errorf("a cancelled pull wrote its manifest: %v", err)
	}
	if _, err := os.Stat(filepath.Join(pe.assets, "generic/stuck/vmlinuz")); !os.IsNotExist(err) {
		t.Errorf("a cancelled pull left a final file: %v", err)
	}
	if imgs, _ := pe.client.Images(ctx); len(imgs) != 0 {
		t.Errorf("images after cancel: %+v", imgs)
	}
	n, err := pe.client.StartPull(ctx, pe.request("stuck", "/vmlinuz", ""))
	if err != nil || n.Joined || n.ID == p.ID {
		t.Fatalf("pull after cancel: %+v, %v", n, err)
	}
	if _, err := pe.client.CancelPull(ctx, "nope"); !api.IsCode(err, api.CodeNotFound) {
		t.Errorf("cancel an unknown pull: %v", err)
	}
}

// A pull that fails (a checksum that does not match) says why and leaves
// nothing under the image's final names.
func TestPullFailureLeavesNothing(t *testing.T) {
	pe := startPullEnv(t)
	ctx := context.Background()
	p, err := pe.client.StartPull(ctx, pe.request("bad", "/vmlinuz", strings.Repeat("0", 64)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !p.Ended() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		p, _ = pe.client.Pull(ctx, p.ID)
	}
	if p.State != api.PullFailed || !strings.Contains(p.Error, "checksum mismatch") || p.Result != nil {
		t.Fatalf("ended: %+v", p)
	}
	var left []string
	filepath.WalkDir(pe.assets, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, path)
		}
		return nil
	})
	if len(left) != 0 {
		t.Errorf("a failed pull left files: %v", left)
	}
	if imgs, _ := pe.client.Images(ctx); len(imgs) != 0 {
		t.Errorf("images: %+v", imgs)
	}
}

// Nothing a client sends names a host path: traversal in names, non-HTTP
// URLs and path fields are refused before anything runs, and nothing
// outside the asset store is touched.
func TestPullHostileRequests(t *testing.T) {
	pe := startPullEnv(t)
	sentinel := filepath.Join(filepath.Dir(pe.assets), "sentinel")
	os.WriteFile(sentinel, []byte("keep"), 0o644)
	sum := strings.Repeat("a", 64)
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"traversal in the name", `{"os":"generic","name":"../../etc","files":[{"url":"` + pe.srv.URL + `/vmlinuz","sha256":"` + sum + `"}]}`, 400},
		{"a file URL", `{"os":"generic","name":"x","files":[{"url":"file:///etc/shadow","sha256":"` + sum + `"}]}`, 400},
		{"a file mirror", `{"os":"fedora-coreos","mirror":"file:///etc"}`, 400},
		{"a data_dir field", `{"os":"fedora-coreos","data_dir":"/etc"}`, 400},
		{"a keyring path", `{"os":"flatcar","keyring_file":"/root/.gnupg/pubring.kbx"}`, 400},
		{"a keyring that is no keyring", `{"os":"flatcar","keyring":"L2V0Yy9wYXNzd2Q="}`, 400},
		{"a stream with a slash", `{"os":"fedora-coreos","stream":"../../x"}`, 400},
		{"a Flatcar version with a slash", `{"os":"flatcar","version":"../../../etc"}`, 400},
		{"an unknown OS", `{"os":"/bin/sh"}`, 400},
	} {
		status, e := pe.rawSend(t, "POST", "/v1/pulls", []byte(tc.body))
		if status != tc.status || e.Message == "" {
			t.Errorf("%s: %d %+v, want %d with a message", tc.name, status, e, tc.status)
		}
	}
	for _, path := range []string{"/v1/images/..%2F..%2Fsentinel", "/v1/images/generic/..%2F..%2F..%2Fsentinel", "/v1/images/%2Fetc"} {
		if status, _ := pe.rawSend(t, "DELETE", path, nil); status < 400 || status >= 500 {
			t.Errorf("DELETE %s: %d, want a refusal", path, status)
		}
	}
	for _, body := range []string{
		`{"profile":{"name":"p","os":"fedora-coreos"},"assets":"/"}`,
		`{"profile":{"name":"p","os":"fedora-coreos"},"ssh_key_files":["/root/.ssh/id.pub"]}`,
	} {
		if status, _ := pe.rawSend(t, "POST", "/v1/profiles/from-os", []byte(body)); status != 400 {
			t.Errorf("from-os %s: %d, want 400", body, status)
		}
	}
	if b, err := os.ReadFile(sentinel); err != nil || string(b) != "keep" {
		t.Errorf("the file outside the store: %q, %v", b, err)
	}
	if ps, _ := pe.client.Pulls(context.Background()); len(ps) != 0 {
		t.Errorf("a refused request started a pull: %+v", ps)
	}
}
