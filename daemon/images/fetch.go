// Package images pulls OS boot images (kernel, initramfs, Fedora CoreOS's
// live rootfs) into pixie's asset store: it reads the distribution's
// release metadata (the Fedora CoreOS stream JSON, Flatcar's version.txt
// and DIGESTS), downloads each artifact, verifies its published checksum
// and its detached OpenPGP signature (with the distribution's keys pixie
// embeds, or the user's keyring), and records
// what it pulled in a manifest next to the files.
//
// Every file is downloaded to NAME.part and renamed to NAME only once it
// is complete and verified, so a final name never holds a half-written or
// corrupt file. An interrupted download resumes from the .part file with an
// HTTP Range request. A file already present whose checksum matches is not
// downloaded again.
package images

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// Artifact is one file to download.
type Artifact struct {
	Name   string // file name inside the image's directory
	URL    string
	SHA256 string // hex; one of SHA256 and SHA512 is required
	SHA512 string
	SigURL string // detached OpenPGP signature (armored or binary), optional
	Role   string // kernel, initramfs, rootfs
	// Keys names the OS whose embedded signing keys (DistributionKeys)
	// verify SigURL when Puller.DistributionKeys is set.
	Keys string
	// hint is what a failed download's message suggests (a mirror).
	hint string
}

// Puller downloads artifacts.
type Puller struct {
	HTTP *http.Client
	// Keyring verifies detached signatures with these keys (the user's
	// --keyring), instead of the embedded ones.
	Keyring openpgp.EntityList
	// DistributionKeys verifies signatures with pixie's embedded keys of
	// the artifact's distribution when Keyring is nil. With neither,
	// signatures are not checked (and the log says so).
	DistributionKeys bool
	// distKeyring replaces DistributionKeyring in tests.
	distKeyring func(osName string) (openpgp.EntityList, error)
	// Progress shows downloads; nil shows nothing.
	Progress Progress
	// Log receives one line per decision (skipped, verified...).
	Log io.Writer
	// Attempts bounds the tries per file (resuming after each failure);
	// 0 means 4.
	Attempts int
	// RetryDelay is the pause between attempts; 0 means one second.
	RetryDelay time.Duration
	// Timeout bounds each wait on a server: connecting, the TLS handshake
	// and the answer's first byte (these when HTTP is nil), and any pause
	// in the data mid-file. 0 means DefaultTimeout.
	Timeout time.Duration
	// Proxy chooses the proxy of each request when HTTP is nil; nil means
	// http.ProxyFromEnvironment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY).
	Proxy func(*http.Request) (*url.URL, error)
	// Resolver looks up host names when HTTP is nil; nil is the system's.
	Resolver *net.Resolver
}

// ErrChecksum is returned when a downloaded file does not match its
// published checksum.
var ErrChecksum = errors.New("checksum mismatch")

func (p *Puller) logf(format string, args ...any) {
	if p.Log != nil {
		fmt.Fprintf(p.Log, format+"\n", args...)
	}
}

func (a Artifact) newHash() (hash.Hash, string, string, error) {
	switch {
	case a.SHA256 != "":
		return sha256.New(), "sha256", strings.ToLower(a.SHA256), nil
	case a.SHA512 != "":
		return sha512.New(), "sha512", strings.ToLower(a.SHA512), nil
	}
	return nil, "", "", fmt.Errorf("%s: no published checksum: refusing to download it unverified", a.Name)
}

// fileSum hashes an existing file with the artifact's algorithm.
func fileSum(path string, a Artifact) (string, error) {
	h, _, _, err := a.newHash()
	if err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Fetch makes dir/a.Name a verified copy of the artifact. It reports
// whether anything was downloaded.
func (p *Puller) Fetch(ctx context.Context, dir string, a Artifact) (downloaded bool, err error) {
	if a.Name == "" || strings.ContainsAny(a.Name, `/\`) || a.Name == "." || a.Name == ".." {
		return false, fmt.Errorf("artifact name %q is not a plain file name", a.Name)
	}
	_, algo, want, err := a.newHash()
	if err != nil {
		return false, err
	}
	final := filepath.Join(dir, a.Name)
	if got, err := fileSum(final, a); err == nil {
		if got == want {
			p.logf("%s: already present, %s verified", a.Name, algo)
			return false, p.verifySignature(ctx, final, a)
		}
		p.logf("%s: present but its %s does not match: downloading it again", a.Name, algo)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	part := final + ".part"
	attempts := p.Attempts
	if attempts <= 0 {
		attempts = 4
	}
	delay := p.RetryDelay
	if delay <= 0 {
		delay = time.Second
	}
	var lastErr error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			p.logf("%s: %s; resuming (attempt %d of %d)", a.Name, briefly(lastErr), i+1, attempts)
			select {
			case <-ctx.Done():
				return true, ctx.Err()
			case <-time.After(delay):
			}
		}
		lastErr = p.download(ctx, part, a)
		if lastErr == nil || ctx.Err() != nil || errors.Is(lastErr, errPermanent) {
			break
		}
	}
	if lastErr != nil {
		return true, fmt.Errorf("%s: %w", a.Name, withHint(lastErr, a.hint))
	}
	got, err := fileSum(part, a)
	if err != nil {
		return true, err
	}
	if got != want {
		os.Remove(part)
		return true, fmt.Errorf("%s: %w: %s is %s, the release says %s; the download was removed", a.Name, ErrChecksum, algo, got, want)
	}
	if err := p.verifySignature(ctx, part, a); err != nil {
		os.Remove(part)
		return true, err
	}
	if err := os.Rename(part, final); err != nil {
		return true, err
	}
	syncDir(dir)
	p.logf("%s: downloaded, %s verified", a.Name, algo)
	return true, nil
}

// errPermanent marks failures that retrying will not fix.
var errPermanent = errors.New("permanent")

type permanentError struct{ error }

func (e permanentError) Is(target error) bool { return target == errPermanent }

// download fetches into part, resuming from what part already holds.
func (p *Puller) download(ctx context.Context, part string, a Artifact) error {
	var have int64
	if fi, err := os.Stat(part); err == nil {
		have = fi.Size()
	}
	// A server that stops sending mid-file cancels the request after
	// the same wait as for its first answer, so a pull never hangs.
	reqCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, a.URL, nil)
	if err != nil {
		return permanentError{err}
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := p.do(req, func(status int) bool {
		return status == http.StatusOK || have > 0 && (status == http.StatusPartialContent || status == http.StatusRequestedRangeNotSatisfiable)
	})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	flags := os.O_WRONLY | os.O_CREATE
	total := resp.ContentLength
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		flags |= os.O_APPEND
		if total >= 0 {
			total += have
		}
		p.logf("%s: resuming at %d bytes", a.Name, have)
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0:
		return nil // the part file already holds everything; the checksum decides
	default: // 200
		flags |= os.O_TRUNC
		have = 0
	}
	f, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return permanentError{err}
	}
	fw := &fileWriter{f: f}
	var w io.Writer = fw
	var bar ProgressBar
	if p.Progress != nil {
		bar = p.Progress.Start(a.Name, total, have)
		w = io.MultiWriter(fw, bar)
	}
	wait := p.timeout()
	stall := time.AfterFunc(wait, func() { cancel(errStalled) })
	n, copyErr := io.Copy(w, &stallReader{r: resp.Body, t: stall, wait: wait})
	stall.Stop()
	if bar != nil {
		bar.Finish(copyErr)
	}
	if err := f.Sync(); err != nil && fw.err == nil {
		fw.err = err
	}
	if err := f.Close(); err != nil && fw.err == nil {
		fw.err = err
	}
	switch {
	case fw.err != nil && errors.Is(fw.err, syscall.ENOSPC):
		return permanentError{fmt.Errorf("the disk holding %s is full after %d bytes: free some space and pull again (the download resumes): %w", filepath.Dir(part), have+n, fw.err)}
	case fw.err != nil:
		return permanentError{fmt.Errorf("write %s: %w", part, fw.err)}
	case context.Cause(reqCtx) == errStalled && ctx.Err() == nil:
		return &FetchError{URL: a.URL, Reason: Timeout, Host: req.URL.Host, Wait: wait,
			Err: fmt.Errorf("after %d bytes: %w", have+n, errStalled)}
	case copyErr != nil:
		err := classify(ctx, a.URL, nil, wait, copyErr)
		var fe *FetchError
		if errors.As(err, &fe) && fe.Reason == ConnectionLost {
			fe.Err = fmt.Errorf("after %d bytes: %w", have+n, copyErr)
		}
		return err
	}
	if resp.ContentLength >= 0 && n < resp.ContentLength {
		return &FetchError{URL: a.URL, Reason: ConnectionLost, Host: req.URL.Host,
			Err: fmt.Errorf("the server sent %d of %d bytes", have+n, total)}
	}
	return nil
}

// fileWriter remembers a write error, so a full disk is told apart from a
// broken connection.
type fileWriter struct {
	f   *os.File
	err error
}

func (w *fileWriter) Write(b []byte) (int, error) {
	n, err := w.f.Write(b)
	if err != nil {
		w.err = err
	}
	return n, err
}

// keyring is what verifies a's signature, and says where its keys come
// from; nil when nothing does.
func (p *Puller) keyring(a Artifact) (openpgp.EntityList, string, error) {
	if p.Keyring != nil {
		return p.Keyring, "the --keyring keys", nil
	}
	if !p.DistributionKeys || a.Keys == "" {
		return nil, "", nil
	}
	read := DistributionKeyring
	if p.distKeyring != nil {
		read = p.distKeyring
	}
	kr, err := read(a.Keys)
	return kr, "pixie's embedded " + a.Keys + " keys", err
}

// verifySignature checks a's detached signature over path when the release
// publishes one and a keyring is configured.
func (p *Puller) verifySignature(ctx context.Context, path string, a Artifact) error {
	if a.SigURL == "" {
		return nil
	}
	keyring, source, err := p.keyring(a)
	if err != nil {
		return err
	}
	if keyring == nil {
		p.logf("%s: signature not checked (no keyring; give --keyring FILE with the distribution's signing key)", a.Name)
		return nil
	}
	sig, err := p.get(ctx, a.SigURL, 1<<20)
	if err != nil {
		return fmt.Errorf("%s: fetch signature: %w", a.Name, withHint(err, a.hint))
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	check := openpgp.CheckDetachedSignature
	if bytes.HasPrefix(bytes.TrimSpace(sig), []byte("-----BEGIN PGP")) {
		check = openpgp.CheckArmoredDetachedSignature
	}
	signer, err := check(keyring, f, bytes.NewReader(sig), nil)
	if err != nil {
		hint := ""
		if p.Keyring == nil {
			hint = " (if the distribution signs with a newer key than this pixie embeds, give --keyring FILE with it, or --no-signature to rely on the checksum alone)"
		}
		return fmt.Errorf("%s: OpenPGP signature does not verify with %s: %v%s", a.Name, source, err, hint)
	}
	name := ""
	for n := range signer.Identities {
		name = n
		break
	}
	p.logf("%s: signature verified (%s)", a.Name, name)
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// ReadKeyring reads OpenPGP public keys, armored or binary: the keyring a
// user gives with --keyring (e.g. Flatcar's image signing key).
func ReadKeyring(r io.Reader) (openpgp.EntityList, error) {
	b, err := io.ReadAll(io.LimitReader(r, 16<<20))
	if err != nil {
		return nil, err
	}
	var el openpgp.EntityList
	if bytes.Contains(b, []byte("-----BEGIN PGP")) {
		el, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(b))
	} else {
		el, err = openpgp.ReadKeyRing(bytes.NewReader(b))
	}
	if err != nil {
		// The library's reason ("tag byte does not have MSB set") helps
		// no one: say what the file must be.
		return nil, errors.New("not an OpenPGP public keyring: give the distribution's signing key, armored (-----BEGIN PGP PUBLIC KEY BLOCK-----) or binary, e.g. from gpg --export --armor KEYID")
	}
	if len(el) == 0 {
		return nil, errors.New("the keyring holds no keys")
	}
	return el, nil
}
