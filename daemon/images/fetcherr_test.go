package images

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The messages below are asserted whole: they are what a person reads.
const (
	noProxyNote  = "pixie connects through a proxy when HTTPS_PROXY (HTTP_PROXY for http:// URLs) is set in its environment, with NO_PROXY for exceptions; none is set"
	fcosNoMirror = "To pull without reaching it, give --mirror URL: a local copy of https://builds.coreos.fedoraproject.org (its streams/ and prod/ folders)"
)

func fcosMirrorHint(m string) string {
	return "Check --mirror " + m + ": it must hold a copy of https://builds.coreos.fedoraproject.org (streams/STREAM.json and the prod/ files it lists)"
}

// clearProxyEnv empties the proxy variables this process sees, so the
// messages' proxy notes do not depend on the machine the test runs on.
func clearProxyEnv(t *testing.T) {
	for _, v := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"} {
		t.Setenv(v, "")
	}
}

// direct is a Proxy choice that never uses one: names under .invalid must
// not reach whatever proxy the test machine has configured.
func direct(*http.Request) (*url.URL, error) { return nil, nil }

// nxdomain is a DNS server on 127.0.0.1 that answers every query with
// "no such name" (RFC 1035 RCODE 3) and records the names asked for, and a
// resolver that sends its queries there and nowhere else.
type nxdomain struct {
	mu    sync.Mutex
	names []string
}

func startNXDOMAIN(t *testing.T) (*nxdomain, *net.Resolver) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	d := &nxdomain{}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp, name, ok := nxAnswer(buf[:n]); ok {
				d.mu.Lock()
				d.names = append(d.names, name)
				d.mu.Unlock()
				pc.WriteTo(resp, from)
			}
		}
	}()
	addr := pc.LocalAddr().String()
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, "udp", addr)
	}}
	return d, r
}

// nxAnswer builds the NXDOMAIN answer to one query: its ID and question,
// no records.
func nxAnswer(q []byte) ([]byte, string, bool) {
	if len(q) < 12 {
		return nil, "", false
	}
	var labels []string
	i := 12
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if l > 63 || i+1+l > len(q) {
			return nil, "", false
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	end := i + 1 + 4 // the root label, QTYPE, QCLASS
	if end > len(q) {
		return nil, "", false
	}
	resp := append([]byte{q[0], q[1], 0x81 | q[2]&0x01, 0x83, 0, 1, 0, 0, 0, 0, 0, 0}, q[12:end]...)
	return resp, strings.Join(labels, "."), true
}

func (d *nxdomain) asked() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.names...)
}

// pullErr pulls r with p and returns its *FetchError.
func pullErr(t *testing.T, p *Puller, r Request) (*FetchError, error) {
	t.Helper()
	_, err := p.Pull(context.Background(), t.TempDir(), r)
	var fe *FetchError
	if !errors.As(err, &fe) {
		t.Fatalf("pull %+v: %v; want a *FetchError", r, err)
	}
	return fe, err
}

func wantMessage(t *testing.T, err error, want string) {
	t.Helper()
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
}

// The case: no DNS for the distribution's host. The resolver asks
// a local server only, which knows no name.
func TestPullNoDNS(t *testing.T) {
	clearProxyEnv(t)
	dns, resolver := startNXDOMAIN(t)
	p := &Puller{Resolver: resolver, Proxy: direct, Log: &bytes.Buffer{}}
	for _, tc := range []struct {
		mirror, host, url, hint string
	}{
		{"", "builds.coreos.fedoraproject.org", "https://builds.coreos.fedoraproject.org/streams/stable.json", fcosNoMirror},
		{"http://pixie-mirror.invalid:8080", "pixie-mirror.invalid", "http://pixie-mirror.invalid:8080/streams/stable.json", fcosMirrorHint("http://pixie-mirror.invalid:8080")},
	} {
		fe, err := pullErr(t, p, Request{OS: "fedora-coreos", Mirror: tc.mirror})
		if fe.Reason != NoDNS || fe.URL != tc.url || fe.Proxy != "" || !errors.Is(err, errPermanent) {
			t.Errorf("mirror %q: %+v", tc.mirror, fe)
		}
		wantMessage(t, err, "read the Fedora CoreOS stream metadata: could not download "+tc.url+": the name "+tc.host+
			" does not resolve: this machine has no DNS server that knows it, or no network to reach one. "+noProxyNote+". "+tc.hint)
	}
	for _, n := range dns.asked() {
		if !strings.HasPrefix(n, "builds.coreos.fedoraproject.org") && !strings.HasPrefix(n, "pixie-mirror.invalid") {
			t.Errorf("the resolver asked for %q", n)
		}
	}
	t.Logf("names the local DNS server was asked: %q", dns.asked())
}

func TestPullTLSUntrusted(t *testing.T) {
	clearProxyEnv(t)
	f := newFixture(t)
	srv := tlsServer(t, f)
	fe, err := pullErr(t, &Puller{Proxy: direct}, Request{OS: "fedora-coreos", Mirror: srv.URL})
	var unknown x509.UnknownAuthorityError
	if fe.Reason != TLSFailure || !errors.As(err, &unknown) || !errors.Is(err, errPermanent) {
		t.Errorf("%+v", fe)
	}
	wantMessage(t, err, "read the Fedora CoreOS stream metadata: could not download "+srv.URL+"/streams/stable.json: the TLS certificate of 127.0.0.1 is signed by an authority this machine does not trust"+
		" (a mirror with its own certificate authority, or a proxy that intercepts HTTPS): add that authority to the system's trust store (on Linux SSL_CERT_FILE=FILE also works), or use an http:// mirror. "+
		noProxyNote+". "+fcosMirrorHint(srv.URL))
}

// tlsServer serves f over TLS with httptest's certificate, which nothing
// trusts by default; the refused handshakes are not logged.
func tlsServer(t *testing.T, f *fixture) *httptest.Server {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// A certificate the client trusts, for other names than the URL's.
func TestPullTLSWrongName(t *testing.T) {
	clearProxyEnv(t)
	f := newFixture(t)
	srv := tlsServer(t, f)
	hc := srv.Client() // trusts the certificate, which is for example.com, 127.0.0.1 and ::1
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	mirror := "https://localhost:" + port
	fe, err := pullErr(t, &Puller{HTTP: hc}, Request{OS: "fedora-coreos", Mirror: mirror})
	if fe.Reason != TLSFailure {
		t.Errorf("%+v", fe)
	}
	wantMessage(t, err, "read the Fedora CoreOS stream metadata: could not download "+mirror+"/streams/stable.json: localhost showed a TLS certificate for example.com, *.example.com, 127.0.0.1, ::1, not for localhost:"+
		" the URL names the wrong host, or something between intercepts the connection. "+noProxyNote+". "+fcosMirrorHint(mirror))
}

func TestPullMirror404(t *testing.T) {
	clearProxyEnv(t)
	f := newFixture(t)
	delete(f.files, "/streams/stable.json")
	host := strings.TrimPrefix(f.srv.URL, "http://")
	fe, err := pullErr(t, &Puller{Proxy: direct}, Request{OS: "fedora-coreos", Mirror: f.srv.URL})
	if fe.Reason != HTTPStatus || fe.StatusCode != 404 || fe.Host != host {
		t.Errorf("%+v", fe)
	}
	// No proxy note: the mirror answered, the network is fine.
	wantMessage(t, err, "read the Fedora CoreOS stream metadata: could not download "+f.srv.URL+"/streams/stable.json: "+host+
		" has no file /streams/stable.json (it answered 404 Not Found). "+fcosMirrorHint(f.srv.URL))

	// A missing artifact is not asked for again: a 404 is final.
	f = newFixture(t)
	kernel := "/prod/streams/stable/builds/" + fcosVer + "/x86_64/fedora-coreos-" + fcosVer + "-live-kernel-x86_64"
	delete(f.files, kernel)
	fe, _ = pullErr(t, &Puller{Proxy: direct, RetryDelay: time.Millisecond}, Request{OS: "fedora-coreos", Mirror: f.srv.URL})
	if fe.StatusCode != 404 || f.hitsFor(kernel) != 1 {
		t.Errorf("missing kernel: %+v, asked %d times; want one 404", fe, f.hitsFor(kernel))
	}
}

// hang is a server that takes requests and never answers, until the test
// ends; sendHalf makes it send the headers and half the body first.
func hang(t *testing.T, sendHalf bool) *httptest.Server {
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sendHalf {
			w.Header().Set("Content-Length", "1000")
			w.Write(make([]byte, 500))
			w.(http.Flusher).Flush()
		}
		select {
		case <-done:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	return srv
}

func TestPullTimeout(t *testing.T) {
	clearProxyEnv(t)
	srv := hang(t, false)
	host := strings.TrimPrefix(srv.URL, "http://")
	start := time.Now()
	fe, err := pullErr(t, &Puller{Proxy: direct, Timeout: 300 * time.Millisecond}, Request{OS: "fedora-coreos", Mirror: srv.URL})
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the pull took %s with a 300ms timeout", took)
	}
	if fe.Reason != Timeout || fe.Wait != 300*time.Millisecond || errors.Is(err, errPermanent) {
		t.Errorf("%+v", fe)
	}
	wantMessage(t, err, "read the Fedora CoreOS stream metadata: could not download "+srv.URL+"/streams/stable.json: "+host+
		" did not answer within 300ms (a slow or unreachable host, or a firewall dropping the traffic). "+noProxyNote+". "+fcosMirrorHint(srv.URL))
}

// A server that stops sending in the middle of a file times out too, and
// the file is retried, not left hanging.
func TestDownloadStallTimesOut(t *testing.T) {
	clearProxyEnv(t)
	srv := hang(t, true)
	var log bytes.Buffer
	p := &Puller{Proxy: direct, Timeout: 300 * time.Millisecond, Attempts: 2, RetryDelay: time.Millisecond, Log: &log}
	start := time.Now()
	_, err := p.Fetch(context.Background(), t.TempDir(), Artifact{Name: "k", URL: srv.URL + "/k", SHA256: strings.Repeat("0", 64)})
	var fe *FetchError
	if !errors.As(err, &fe) || fe.Reason != Timeout || !strings.Contains(err.Error(), "k: could not download "+srv.URL+"/k: "+strings.TrimPrefix(srv.URL, "http://")+" stopped sending: nothing arrived for 300ms (a slow or broken connection). ") {
		t.Fatalf("stalled download: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("two stalled attempts took %s", took)
	}
	if !strings.Contains(log.String(), "k: "+strings.TrimPrefix(srv.URL, "http://")+" stopped sending: nothing arrived for 300ms (a slow or broken connection); resuming (attempt 2 of 2)") {
		t.Errorf("the retry is not logged briefly:\n%s", log.String())
	}
}

// The stream metadata stalling after its headers times out as well.
func TestMetadataStallTimesOut(t *testing.T) {
	clearProxyEnv(t)
	srv := hang(t, true)
	_, err := (&Puller{Proxy: direct, Timeout: 300 * time.Millisecond}).get(context.Background(), srv.URL+"/streams/stable.json", 1<<20)
	var fe *FetchError
	if !errors.As(err, &fe) || fe.Reason != Timeout || !strings.Contains(err.Error(), "stopped sending: nothing arrived for 300ms") {
		t.Fatalf("stalled metadata: %v", err)
	}
}

func TestPullRefused(t *testing.T) {
	clearProxyEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	mirror := "http://" + addr
	fe, err := pullErr(t, &Puller{Proxy: direct}, Request{OS: "flatcar", Mirror: mirror})
	if fe.Reason != Refused || fe.Host != addr {
		t.Errorf("%+v", fe)
	}
	wantMessage(t, err, "read Flatcar's release listing: could not download "+mirror+"/stable/amd64-usr/current/version.txt: "+addr+
		" refused the connection: nothing listens on that port (a mirror or proxy that is not running, or the wrong port). "+noProxyNote+
		". Check --mirror "+mirror+": it must hold CHANNEL/ARCH-usr/VERSION/ (version.txt, and the PXE files with their .DIGESTS and .sig files)")
}

// A proxy choice that fails stops the pull with what to fix.
func TestPullProxyChoiceFails(t *testing.T) {
	p := &Puller{Proxy: func(*http.Request) (*url.URL, error) { return nil, errors.New("bad proxy") }}
	_, err := p.Pull(context.Background(), t.TempDir(), Request{OS: "fedora-coreos", Mirror: "http://pixie-mirror.invalid"})
	wantMessage(t, err, "read the Fedora CoreOS stream metadata: the proxy setting for http://pixie-mirror.invalid/streams/stable.json is not a URL pixie can use (bad proxy): fix HTTPS_PROXY or HTTP_PROXY, e.g. http://proxy.lan:3128")
}

// classify is pure: the errors a transport returns, one of each kind.
func TestClassify(t *testing.T) {
	clearProxyEnv(t)
	ctx := context.Background()
	op := func(e error) error {
		return &url.Error{Op: "Get", URL: "u", Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", e)}}
	}
	for _, tc := range []struct {
		name string
		err  error
		want Reason
	}{
		{"dns", &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}, NoDNS},
		{"dns server silent", &net.DNSError{Err: "i/o timeout", Name: "x", IsTimeout: true}, NoDNS},
		{"refused", op(syscall.ECONNREFUSED), Refused},
		{"no route", op(syscall.EHOSTUNREACH), NoRoute},
		{"net unreachable", op(syscall.ENETUNREACH), NoRoute},
		{"deadline", context.DeadlineExceeded, Timeout},
		{"unknown authority", &url.Error{Op: "Get", URL: "u", Err: x509.UnknownAuthorityError{}}, TLSFailure},
		{"expired", x509.CertificateInvalidError{Reason: x509.Expired}, TLSFailure},
		{"reset", errors.New("connection reset by peer"), ConnectionLost},
	} {
		got := classify(ctx, "https://h.example:443/f", nil, time.Second, tc.err)
		var fe *FetchError
		if !errors.As(got, &fe) || fe.Reason != tc.want || fe.Host != "h.example:443" {
			t.Errorf("%s: %v; want reason %v", tc.name, got, tc.want)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := classify(cancelled, "u", nil, time.Second, context.Canceled); err != context.Canceled {
		t.Errorf("a cancelled pull is %v; want context.Canceled as it is", err)
	}
}
