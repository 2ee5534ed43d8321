package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// The HTTP side of pulling: a client built from the Puller's options, every
// wait on a server bounded, and every failure a *FetchError.

// DefaultTimeout is how long a Puller waits on a server by default.
const DefaultTimeout = 60 * time.Second

func (p *Puller) timeout() time.Duration {
	if p.Timeout > 0 {
		return p.Timeout
	}
	return DefaultTimeout
}

// errStalled is the cause of a download cancelled because the server
// stopped sending.
var errStalled = errors.New("the server stopped sending")

// stallReader pushes the stall timer back on every read that returns data.
type stallReader struct {
	r    io.Reader
	t    *time.Timer
	wait time.Duration
}

func (s *stallReader) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	if n > 0 {
		s.t.Reset(s.wait)
	}
	return n, err
}

func (p *Puller) client() *http.Client {
	if p.HTTP != nil {
		return p.HTTP
	}
	proxy := p.Proxy
	if proxy == nil {
		proxy = http.ProxyFromEnvironment
	}
	wait := p.timeout()
	dialer := &net.Dialer{Timeout: wait, KeepAlive: 30 * time.Second, Resolver: p.Resolver}
	// No overall Timeout: a large file may take long; each wait is bounded.
	return &http.Client{Transport: &http.Transport{
		Proxy:                 proxy,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   wait,
		ResponseHeaderTimeout: wait,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}}
}

// do sends req and turns a failure, or an answer whose status ok refuses,
// into a *FetchError that says what pixie tried to reach and why it failed.
func (p *Puller) do(req *http.Request, ok func(status int) bool) (*http.Response, error) {
	hc := p.client()
	var proxy *url.URL
	if tr, isTr := hc.Transport.(*http.Transport); isTr && tr.Proxy != nil {
		var err error
		if proxy, err = tr.Proxy(req); err != nil {
			return nil, permanentError{fmt.Errorf("the proxy setting for %s is not a URL pixie can use (%v): fix HTTPS_PROXY or HTTP_PROXY, e.g. http://proxy.lan:3128", req.URL.Redacted(), err)}
		}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, classify(req.Context(), req.URL.String(), proxy, p.timeout(), err)
	}
	if !ok(resp.StatusCode) {
		resp.Body.Close()
		return nil, statusError(req.URL.String(), proxy, resp)
	}
	return resp, nil
}

// get fetches a small document (metadata, checksums, signatures).
func (p *Puller) get(ctx context.Context, rawURL string, limit int64) ([]byte, error) {
	reqCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL pixie can fetch: %w", rawURL, err)
	}
	resp, err := p.do(req, func(status int) bool { return status == http.StatusOK })
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	wait := p.timeout()
	stall := time.AfterFunc(wait, func() { cancel(errStalled) })
	b, err := io.ReadAll(io.LimitReader(&stallReader{r: resp.Body, t: stall, wait: wait}, limit+1))
	stall.Stop()
	if context.Cause(reqCtx) == errStalled && ctx.Err() == nil {
		return nil, &FetchError{URL: rawURL, Reason: Timeout, Host: req.URL.Host, Wait: wait, Err: errStalled}
	}
	if err != nil {
		return nil, classify(ctx, rawURL, nil, wait, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes: not the small file pixie expects there (is the mirror URL right?)", rawURL, limit)
	}
	return b, nil
}
