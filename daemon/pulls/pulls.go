// Package pulls runs image pulls inside the daemon, for every client of
// the control API alike: one job per image at a time (a second request
// for the same image joins the running one), each cancellable, listed
// while it runs and for a while after, and reporting its progress to
// subscribers (the control socket's event stream) as whole snapshots.
//
// The downloading itself is package images' Puller.Pull, unchanged: this
// package only decides when a pull runs and tells who is watching. A pull
// runs under the daemon's context, not the request's, so it goes on when
// the client that started it goes away.
package pulls

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/images"
)

// keepEnded is how many ended pulls the list keeps, so a client that was
// away can still read how its pull ended.
const keepEnded = 20

// logLines is how many log lines a pull snapshot carries.
const logLines = 20

// publishEvery spaces a running pull's progress updates: a snapshot per
// chunk written would flood the stream for nothing a person can read.
const publishEvery = 250 * time.Millisecond

// ErrInvalid marks a request the manager refuses before starting.
var ErrInvalid = errors.New("invalid pull request")

// ErrNotFound marks an unknown pull ID.
var ErrNotFound = errors.New("no such pull")

// Config is what a Manager works with.
type Config struct {
	// Assets is the asset store pulls write into (the data directory's
	// assets/ folder).
	Assets string
	// Configure, if set, adjusts each job's puller before it runs (tests
	// point its DNS and proxy at local fixtures).
	Configure func(*images.Puller)
	Log       *slog.Logger
}

// Manager runs pulls. Its zero value is not usable: use New.
type Manager struct {
	cfg  Config
	base context.Context
	log  *slog.Logger
	wg   sync.WaitGroup

	mu    sync.Mutex
	jobs  []*job // oldest first; running ones and up to keepEnded ended
	subs  map[chan api.Pull]struct{}
	close bool
}

// New returns a manager whose pulls run until ctx is cancelled.
func New(ctx context.Context, cfg Config) *Manager {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Manager{cfg: cfg, base: ctx, log: log, subs: map[chan api.Pull]struct{}{}}
}

// Wait blocks until every pull has stopped (after the context given to
// New is cancelled, they stop soon).
func (m *Manager) Wait() { m.wg.Wait() }

// Assets returns the asset store the manager pulls into.
func (m *Manager) Assets() string { return m.cfg.Assets }

// job is one pull. Its fields after the immutable ones are guarded by mu.
type job struct {
	id, key string
	req     api.PullRequest
	cancel  context.CancelFunc

	mu        sync.Mutex
	state     string
	started   time.Time
	ended     time.Time
	files     []api.PullFile
	log       []string
	logOffset int
	err       string
	result    *api.PullResult
	published time.Time
	// trailing is set while a publish is due for figures that changed
	// within publishEvery of the last one.
	trailing bool
}

func (j *job) snapshot() api.Pull {
	j.mu.Lock()
	defer j.mu.Unlock()
	req := j.req
	req.Keyring = nil // the keys are not news to anyone watching
	return api.Pull{ID: j.id, Key: j.key, Request: req, State: j.state, StartedAt: j.started, EndedAt: j.ended,
		Files: append([]api.PullFile(nil), j.files...), Log: append([]string(nil), j.log...), LogOffset: j.logOffset, Error: j.err, Result: j.result}
}

// Start begins pulling r, or returns the running pull of the same image
// with Joined set. A request that cannot be pulled as given is refused
// with an error matching ErrInvalid.
func (m *Manager) Start(r api.PullRequest) (api.Pull, error) {
	key, ireq, err := plan(r)
	if err != nil {
		return api.Pull{}, err
	}
	p := &images.Puller{Timeout: time.Duration(r.TimeoutSeconds * float64(time.Second)), DistributionKeys: !r.NoSignature}
	if len(r.Keyring) > 0 {
		if r.NoSignature {
			return api.Pull{}, fmt.Errorf("%w: give a keyring or no_signature, not both", ErrInvalid)
		}
		if p.Keyring, err = images.ReadKeyring(bytes.NewReader(r.Keyring)); err != nil {
			return api.Pull{}, fmt.Errorf("%w: the keyring: %v", ErrInvalid, err)
		}
	}
	m.mu.Lock()
	if m.close || m.base.Err() != nil {
		m.mu.Unlock()
		return api.Pull{}, errors.New("the pixie daemon is stopping: pull again once it is back")
	}
	for _, j := range m.jobs {
		if j.key == key && j.snapshot().State == api.PullRunning {
			m.mu.Unlock()
			s := j.snapshot()
			s.Joined = true
			return s, nil
		}
	}
	ctx, cancel := context.WithCancel(m.base)
	j := &job{id: newID(), key: key, req: r, cancel: cancel, state: api.PullRunning, started: time.Now().UTC()}
	m.jobs = append(m.jobs, j)
	m.trim()
	m.mu.Unlock()

	p.Progress = &progress{m: m, j: j}
	p.Log = &logWriter{m: m, j: j}
	if m.cfg.Configure != nil {
		m.cfg.Configure(p)
	}
	m.log.Info("image pull started", "pull", j.id, "image", key)
	m.publish(j, true)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer cancel()
		res, err := p.Pull(ctx, m.cfg.Assets, ireq)
		var loaders *api.PullLoaders
		if err == nil && r.OS == "fedora-coreos" && !r.NoLoaders {
			loaders, err = m.pullLoaders(ctx, p, res.Image, r.FedoraMirror)
		}
		m.finish(ctx, j, res, loaders, err)
	}()
	return j.snapshot(), nil
}

// finish records how a job ended and tells the subscribers.
func (m *Manager) finish(ctx context.Context, j *job, res images.Result, loaders *api.PullLoaders, err error) {
	j.mu.Lock()
	j.ended = time.Now().UTC()
	switch {
	case err == nil:
		j.state = api.PullDone
		img := APIImage(res.Image)
		if loaders != nil {
			img.Loaders = "Fedora " + loaders.Release
		}
		j.result = &api.PullResult{Image: img, Downloaded: res.Downloaded, Present: res.Present, Loaders: loaders}
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		j.state = api.PullCancelled
		j.err = "the pull was cancelled; what was downloaded stays as .part files, and pulling again resumes from there"
		if m.base.Err() != nil {
			j.err = "the pixie daemon stopped during the pull; pull again once it is back (the download resumes)"
		}
	default:
		j.state = api.PullFailed
		j.err = err.Error()
	}
	for i := range j.files {
		if j.files[i].State == "downloading" {
			j.files[i].State = "failed"
		}
	}
	state, msg := j.state, j.err
	j.mu.Unlock()
	if state == api.PullFailed {
		m.log.Warn("image pull failed", "pull", j.id, "image", j.key, "err", msg)
	} else {
		m.log.Info("image pull ended", "pull", j.id, "image", j.key, "state", state)
	}
	m.publish(j, true)
	m.mu.Lock()
	m.trim()
	m.mu.Unlock()
}

// pullLoaders fetches Fedora's signed shim and GRUB for a pulled Fedora
// CoreOS image. Failing, it says the image itself is there, so pulling
// again is cheap.
func (m *Manager) pullLoaders(ctx context.Context, p *images.Puller, img images.Image, mirror string) (*api.PullLoaders, error) {
	lr, err := p.PullLoaders(ctx, m.cfg.Assets, img, mirror)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%s %s %s is pulled, but Fedora's signed shim and GRUB for it are not, so machines with Secure Boot on cannot boot it yet: %w\nPull again to retry (the image is not downloaded again), or pull with --no-loaders if no machine needs Secure Boot",
			img.OS, img.Stream, img.Version, err)
	}
	out := &api.PullLoaders{Release: lr.Set.Release, Dir: lr.Dir, Downloaded: lr.Downloaded}
	for _, f := range lr.Set.Files {
		out.Files = append(out.Files, api.LoaderFrom{Name: f.Name, Package: f.Package})
	}
	return out, nil
}

// trim drops the oldest ended jobs beyond keepEnded. m.mu is held.
func (m *Manager) trim() {
	ended := 0
	for _, j := range m.jobs {
		if j.snapshot().State != api.PullRunning {
			ended++
		}
	}
	kept := m.jobs[:0]
	for _, j := range m.jobs {
		if ended > keepEnded && j.snapshot().State != api.PullRunning {
			ended--
			continue
		}
		kept = append(kept, j)
	}
	m.jobs = kept
}

// List returns every running pull and the recently ended ones, oldest
// first.
func (m *Manager) List() []api.Pull {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]api.Pull, 0, len(m.jobs))
	for _, j := range m.jobs {
		out = append(out, j.snapshot())
	}
	return out
}

// find returns the job with that ID, or else the newest one of that image
// key. m.mu is held.
func (m *Manager) find(id string) *job {
	var byKey *job
	for _, j := range m.jobs {
		if j.id == id {
			return j
		}
		if j.key == strings.Trim(id, "/") {
			byKey = j
		}
	}
	return byKey
}

// Get returns one pull, by ID or image key.
func (m *Manager) Get(id string) (api.Pull, error) {
	m.mu.Lock()
	j := m.find(id)
	m.mu.Unlock()
	if j == nil {
		return api.Pull{}, fmt.Errorf("%w %q: see `pixie images pulls` for the running and recent ones", ErrNotFound, id)
	}
	return j.snapshot(), nil
}

// Cancel stops a running pull (by ID or image key) and returns it once it
// has stopped, or ctx ends. Cancelling an ended pull returns it as it is.
func (m *Manager) Cancel(ctx context.Context, id string) (api.Pull, error) {
	m.mu.Lock()
	j := m.find(id)
	m.mu.Unlock()
	if j == nil {
		return api.Pull{}, fmt.Errorf("%w %q: see `pixie images pulls` for the running and recent ones", ErrNotFound, id)
	}
	j.cancel()
	sub, stop := m.Subscribe(8)
	defer stop()
	for {
		if s := j.snapshot(); s.Ended() {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return j.snapshot(), ctx.Err()
		case <-sub:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Subscribe returns a channel of pull snapshots (a start, progress at most
// every publishEvery per pull, and every end) and a function that ends the
// subscription. A subscriber that does not keep up misses snapshots, not
// the truth: Get has the latest.
func (m *Manager) Subscribe(buf int) (<-chan api.Pull, func()) {
	ch := make(chan api.Pull, buf)
	m.mu.Lock()
	m.subs[ch] = struct{}{}
	m.mu.Unlock()
	return ch, func() {
		m.mu.Lock()
		delete(m.subs, ch)
		m.mu.Unlock()
	}
}

// publish sends j's snapshot to every subscriber: always when force is
// set (start, file boundaries, end), else at most every publishEvery.
func (m *Manager) publish(j *job, force bool) {
	j.mu.Lock()
	now := time.Now()
	if wait := publishEvery - now.Sub(j.published); !force && wait > 0 {
		// The last figures must still go out when the data pauses (a
		// slow server), so send them once the interval is over.
		if !j.trailing {
			j.trailing = true
			time.AfterFunc(wait, func() {
				j.mu.Lock()
				j.trailing = false
				j.mu.Unlock()
				m.publish(j, true)
			})
		}
		j.mu.Unlock()
		return
	}
	j.published = now
	j.mu.Unlock()
	s := j.snapshot()
	m.mu.Lock()
	defer m.mu.Unlock()
	for ch := range m.subs {
		select {
		case ch <- s:
		default: // a slow subscriber misses an intermediate snapshot
		}
	}
}

func newID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// plan checks a request and returns its image key and the images request.
func plan(r api.PullRequest) (string, images.Request, error) {
	bad := func(format string, args ...any) (string, images.Request, error) {
		return "", images.Request{}, fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
	}
	if r.TimeoutSeconds < 0 {
		return bad("timeout_seconds %v: give a positive number of seconds, or 0 for the default", r.TimeoutSeconds)
	}
	if r.Mirror != "" {
		if err := httpURL(r.Mirror); err != nil {
			return bad("mirror %s", err)
		}
	}
	if r.FedoraMirror != "" {
		if err := httpURL(r.FedoraMirror); err != nil {
			return bad("fedora_mirror %s", err)
		}
	}
	if r.OS != "fedora-coreos" && (r.NoLoaders || r.FedoraMirror != "") {
		return bad("no_loaders and fedora_mirror are for Fedora CoreOS images, not %s", r.OS)
	}
	ir := images.Request{OS: r.OS, Stream: r.Stream, Arch: r.Arch, Version: r.Version, Mirror: r.Mirror, Name: r.Name}
	if r.OS != "generic" && (len(r.Files) > 0 || r.Name != "") {
		return bad("files and name are for generic images, not %s", r.OS)
	}
	arch := func() (string, error) {
		switch r.Arch {
		case "", "x86_64", "amd64":
			return "x86_64", nil
		case "aarch64", "arm64":
			return "aarch64", nil
		}
		return "", fmt.Errorf("architecture %q: use x86_64 or aarch64", r.Arch)
	}
	switch r.OS {
	case "fedora-coreos":
		a, err := arch()
		if err != nil {
			return bad("%v", err)
		}
		st := cmpOr(r.Stream, "stable")
		switch st {
		case "stable", "testing", "next":
		default:
			return bad("Fedora CoreOS stream %q: use stable, testing or next", st)
		}
		if r.Version != "" && r.Version != "current" {
			return bad("Fedora CoreOS pulls the stream's current release; a version is for Flatcar")
		}
		return "fedora-coreos/" + st + "/" + a, ir, nil
	case "flatcar":
		a, err := arch()
		if err != nil {
			return bad("%v", err)
		}
		ch := cmpOr(r.Stream, "stable")
		switch ch {
		case "stable", "beta", "alpha", "lts":
		default:
			return bad("Flatcar channel %q: use stable, beta, alpha or lts", ch)
		}
		v := cmpOr(r.Version, "current")
		if !safeSeg(v) {
			return bad("Flatcar version %q: give current or a release number like 4081.2.0", v)
		}
		return "flatcar/" + ch + "/" + a + "/" + v, ir, nil
	case "generic":
		if len(r.Files) == 0 {
			return bad("a generic image needs a name and its files (the kernel first), each an http(s) URL with its sha256")
		}
		ir.SHA256 = map[string]string{}
		for i, f := range r.Files {
			if err := httpURL(f.URL); err != nil {
				return bad("file %s", err)
			}
			ir.SHA256[f.URL] = f.SHA256
			if i == 0 {
				ir.Kernel = f.URL
			} else {
				ir.Initrds = append(ir.Initrds, f.URL)
			}
		}
		// Resolving a generic image reads nothing from the network: it
		// checks the name and the files here, before anything starts.
		pl, err := (&images.Puller{}).Resolve(context.Background(), ir)
		if err != nil {
			return bad("%v", err)
		}
		return pl.Image.Dir, ir, nil
	}
	return bad("unknown OS %q: pull fedora-coreos, flatcar or generic", r.OS)
}

func httpURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	return nil
}

func safeSeg(s string) bool {
	if s == "" || len(s) > 128 || s == "." || s == ".." {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// ImageLoaders says whether an image in the store has its own shim and
// GRUB: "Fedora 43", "damaged: pull again", or "" for none.
func ImageLoaders(assets string, im images.Image) string {
	set, err := images.ReadLoaderSet(assets, im.Dir)
	switch {
	case err == nil:
		return "Fedora " + set.Release
	case errors.Is(err, fs.ErrNotExist):
		return ""
	}
	return "damaged: pull again"
}

// APIImage converts a pulled image to its API form.
func APIImage(im images.Image) api.Image {
	out := api.Image{ID: im.ID(), OS: im.OS, Stream: im.Stream, Arch: im.Arch, Version: im.Version, Kernel: im.Kernel,
		Initramfs: im.Initramfs, Rootfs: im.Rootfs, PulledAt: im.PulledAt}
	for _, f := range im.Files {
		out.Files = append(out.Files, api.ImageFile{Name: f.Name, Role: f.Role, URL: f.URL, SHA256: f.SHA256, SHA512: f.SHA512, Size: f.Size, Signed: f.Signed})
	}
	if out.Initramfs == nil {
		out.Initramfs = []string{}
	}
	return out
}

// ImageDir is where an image of the store lives on disk (for logs).
func (m *Manager) ImageDir(id string) string {
	return filepath.Join(m.cfg.Assets, filepath.FromSlash(id))
}
