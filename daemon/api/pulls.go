package api

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// PullRequest asks the daemon to pull an OS's boot files into its asset
// store. It names what to pull, never where: the daemon writes only inside
// its own data directory, and reads no file a client names (a keyring
// travels as its content).
type PullRequest struct {
	OS string `json:"os"` // fedora-coreos, flatcar, generic
	// Stream is the Fedora CoreOS stream or the Flatcar channel.
	Stream  string `json:"stream,omitempty"`
	Arch    string `json:"arch,omitempty"`
	Version string `json:"version,omitempty"` // Flatcar: current or a release number
	// Mirror replaces the distribution's host (an http or https URL).
	Mirror string `json:"mirror,omitempty"`
	// Generic images: Name (the folder under assets/generic/) and the
	// files, the kernel first.
	Name  string        `json:"name,omitempty"`
	Files []GenericFile `json:"files,omitempty"`
	// Keyring, if set, holds OpenPGP public keys (armored or binary) that
	// verify the signatures instead of the ones pixie embeds.
	Keyring     []byte `json:"keyring,omitempty"`
	NoSignature bool   `json:"no_signature,omitempty"`
	// TimeoutSeconds bounds each wait on a server; 0 lets the daemon choose.
	TimeoutSeconds float64 `json:"timeout_seconds,omitempty"`
	// Fedora CoreOS pulls also fetch Fedora's signed shim and GRUB of the
	// same release, for Secure Boot machines, unless NoLoaders is set;
	// FedoraMirror replaces Fedora's repository base for those packages.
	NoLoaders    bool   `json:"no_loaders,omitempty"`
	FedoraMirror string `json:"fedora_mirror,omitempty"`
}

// GenericFile is one file of a generic image: an http(s) URL and its sha256.
type GenericFile struct {
	URL    string `json:"url"`
	SHA256 string `json:"sha256"`
}

// Pull states.
const (
	PullRunning   = "running"
	PullDone      = "done"
	PullFailed    = "failed"
	PullCancelled = "cancelled"
)

// Pull is one image pull the daemon runs, as a snapshot: what it pulls,
// how far each file is, and how it ended.
type Pull struct {
	ID string `json:"id"`
	// Key names the image being pulled (e.g. fedora-coreos/stable/x86_64):
	// at most one pull per key runs at a time.
	Key       string      `json:"key"`
	Request   PullRequest `json:"request"`
	State     string      `json:"state"` // running, done, failed, cancelled
	StartedAt time.Time   `json:"started_at"`
	EndedAt   time.Time   `json:"ended_at,omitzero"`
	Files     []PullFile  `json:"files,omitempty"`
	// Log holds the pull's last decisions (file verified, resuming...);
	// LogOffset is how many earlier lines scrolled out of it.
	Log       []string `json:"log,omitempty"`
	LogOffset int      `json:"log_offset,omitempty"`
	// Error says why a failed pull failed, and what to do.
	Error  string      `json:"error,omitempty"`
	Result *PullResult `json:"result,omitempty"` // set when done
	// Joined is set in the answer to a request that found the same
	// image already being pulled: the pull is that one.
	Joined bool `json:"joined,omitempty"`
}

// Ended reports whether the pull has finished, one way or another.
func (p Pull) Ended() bool { return p.State != PullRunning && p.State != "" }

// PullFile is one file's download progress.
type PullFile struct {
	Name  string `json:"name"`
	Total int64  `json:"total"` // bytes; -1 when the server did not say
	Done  int64  `json:"done"`  // bytes on disk, a resumed part included
	// State is downloading, done or failed.
	State string `json:"state"`
}

// PullResult says what a finished pull did.
type PullResult struct {
	Image      Image    `json:"image"`
	Downloaded []string `json:"downloaded,omitempty"` // files fetched this time
	Present    []string `json:"present,omitempty"`    // files already there and verified
	// Loaders is the image's own shim and GRUB (Fedora CoreOS), if pulled.
	Loaders *PullLoaders `json:"loaders,omitempty"`
}

// PullLoaders says which signed shim and GRUB a pull put beside its image.
type PullLoaders struct {
	Release    string       `json:"release"` // the Fedora release
	Dir        string       `json:"dir"`     // in the asset store
	Downloaded bool         `json:"downloaded"`
	Files      []LoaderFrom `json:"files"`
}

// LoaderFrom is one loader file and the package it was taken from.
type LoaderFrom struct {
	Name    string `json:"name"`
	Package string `json:"package"`
}

// Image is one pulled image in the daemon's asset store. Paths are inside
// the store, as profiles reference them.
type Image struct {
	ID        string      `json:"id"` // its folder in the store, what `images rm` takes
	OS        string      `json:"os"`
	Stream    string      `json:"stream,omitempty"`
	Arch      string      `json:"arch,omitempty"`
	Version   string      `json:"version"`
	Kernel    string      `json:"kernel"`
	Initramfs []string    `json:"initramfs"`
	Rootfs    string      `json:"rootfs,omitempty"`
	Files     []ImageFile `json:"files"`
	PulledAt  time.Time   `json:"pulled_at"`
	// Loaders names the image's own shim and GRUB ("Fedora 43"), or says
	// they are damaged; empty when it has none.
	Loaders string `json:"loaders,omitempty"`
}

// ImageFile is one verified file of an image.
type ImageFile struct {
	Name   string `json:"name"`
	Role   string `json:"role"`
	URL    string `json:"url"`
	SHA256 string `json:"sha256,omitempty"`
	SHA512 string `json:"sha512,omitempty"`
	Size   int64  `json:"size"`
	Signed bool   `json:"signature_verified"`
}

// StartPull asks the daemon to pull an image. It answers at once with the
// pull (running), or with the running pull of the same image (Joined set):
// the daemon goes on pulling whatever the caller does next. Follow its
// progress with PullStream, its end with Pull.
func (c *Client) StartPull(ctx context.Context, r PullRequest) (Pull, error) {
	var p Pull
	err := c.do(ctx, http.MethodPost, "/v1/pulls", nil, r, &p)
	return p, err
}

// Pulls lists the running pulls and the recently ended ones, oldest first.
func (c *Client) Pulls(ctx context.Context) ([]Pull, error) {
	var ps []Pull
	err := c.do(ctx, http.MethodGet, "/v1/pulls", nil, nil, &ps)
	return ps, err
}

// Pull returns one pull by ID.
func (c *Client) Pull(ctx context.Context, id string) (Pull, error) {
	var p Pull
	err := c.do(ctx, http.MethodGet, "/v1/pulls/"+url.PathEscape(id), nil, nil, &p)
	return p, err
}

// CancelPull stops a running pull (by ID or by image key) and returns it.
// The files downloaded so far stay as .part files, so pulling again resumes.
func (c *Client) CancelPull(ctx context.Context, id string) (Pull, error) {
	var p Pull
	err := c.do(ctx, http.MethodDelete, "/v1/pulls/"+url.PathEscape(id), nil, nil, &p)
	return p, err
}

// Images lists the pulled images in the daemon's asset store.
func (c *Client) Images(ctx context.Context) ([]Image, error) {
	var is []Image
	err := c.do(ctx, http.MethodGet, "/v1/images", nil, nil, &is)
	return is, err
}

// RemoveImage removes a pulled image by its ID (as Images lists it).
func (c *Client) RemoveImage(ctx context.Context, id string) error {
	segs := strings.Split(strings.Trim(id, "/"), "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return c.do(ctx, http.MethodDelete, "/v1/images/"+strings.Join(segs, "/"), nil, nil, nil)
}
