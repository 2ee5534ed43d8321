package images

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"
)

// Reason says why a download failed, in the terms a person can act on.
type Reason int

const (
	NoDNS          Reason = iota + 1 // the host name does not resolve
	NoRoute                          // no network route to the host
	Refused                          // the host refused the connection: nothing listens there
	Timeout                          // no answer within the time pixie waits
	TLSFailure                       // the TLS handshake failed: untrusted or wrong certificate
	HTTPStatus                       // the server answered, with a status other than success
	ConnectionLost                   // the connection broke, or failed in another way
)

func (r Reason) String() string {
	switch r {
	case NoDNS:
		return "no DNS"
	case NoRoute:
		return "no route"
	case Refused:
		return "connection refused"
	case Timeout:
		return "timeout"
	case TLSFailure:
		return "TLS failure"
	case HTTPStatus:
		return "HTTP status"
	case ConnectionLost:
		return "connection lost"
	}
	return "unknown"
}

// FetchError is a failed download of URL: what pixie tried to reach, why it
// failed, and what to do next. It is a value the daemon can return over
// its API as well as the CLI print, so the message is complete in itself.
type FetchError struct {
	URL    string
	Reason Reason
	// Host is the host (and port) pixie connected to: the URL's, or the
	// proxy's when the request went through one and reaching the proxy
	// failed.
	Host string
	// Proxy is the proxy URL the request went through (from HTTPS_PROXY or
	// HTTP_PROXY); empty for a direct connection.
	Proxy string
	// ProxyFailed is true when it was the proxy that could not be reached.
	ProxyFailed bool
	// StatusCode and Status are the server's answer, for HTTPStatus.
	StatusCode int
	Status     string
	// Wait is how long pixie waited, for Timeout.
	Wait time.Duration
	// Hint says where the URL came from and how to get the file another
	// way (a mirror); the resolver of the request fills it in.
	Hint string
	Err  error
}

func (e *FetchError) Unwrap() error { return e.Err }

// Is makes errors.Is(e, errPermanent) true when trying again cannot help.
func (e *FetchError) Is(target error) bool {
	if target != errPermanent {
		return false
	}
	switch e.Reason {
	case NoDNS, TLSFailure:
		return true
	case HTTPStatus:
		return e.StatusCode >= 400 && e.StatusCode < 500 && e.StatusCode != http.StatusRequestTimeout && e.StatusCode != http.StatusTooManyRequests
	}
	return false
}

func (e *FetchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "could not download %s: %s", e.URL, e.why())
	if p := e.proxyNote(); p != "" {
		b.WriteString(". " + p)
	}
	if e.Hint != "" {
		b.WriteString(". " + e.Hint)
	}
	return b.String()
}

// hostOnly is Host without its port, for messages about names.
func (e *FetchError) hostOnly() string {
	if h, _, err := net.SplitHostPort(e.Host); err == nil {
		return h
	}
	return e.Host
}

func (e *FetchError) why() string {
	who := e.Host
	if e.ProxyFailed {
		who = "the proxy " + e.Host
	}
	switch e.Reason {
	case NoDNS:
		name := e.hostOnly()
		if e.ProxyFailed {
			return fmt.Sprintf("the name of the proxy %s does not resolve: check HTTPS_PROXY/HTTP_PROXY, and this machine's DNS", name)
		}
		return fmt.Sprintf("the name %s does not resolve: this machine has no DNS server that knows it, or no network to reach one", name)
	case NoRoute:
		return fmt.Sprintf("this machine has no network route to %s", who)
	case Refused:
		return fmt.Sprintf("%s refused the connection: nothing listens on that port (a mirror or proxy that is not running, or the wrong port)", who)
	case Timeout:
		if errors.Is(e.Err, errStalled) {
			return fmt.Sprintf("%s stopped sending: nothing arrived for %s (a slow or broken connection)", who, e.Wait)
		}
		if e.Wait > 0 {
			return fmt.Sprintf("%s did not answer within %s (a slow or unreachable host, or a firewall dropping the traffic)", who, e.Wait)
		}
		return fmt.Sprintf("%s did not answer in time (a slow or unreachable host, or a firewall dropping the traffic)", who)
	case TLSFailure:
		return e.tlsWhy()
	case HTTPStatus:
		return e.statusWhy()
	}
	if e.Err != nil {
		return fmt.Sprintf("the connection to %s failed (%v)", who, e.Err)
	}
	return fmt.Sprintf("the connection to %s failed", who)
}

func (e *FetchError) tlsWhy() string {
	h := e.hostOnly()
	var unknown x509.UnknownAuthorityError
	var name x509.HostnameError
	var invalid x509.CertificateInvalidError
	var record tls.RecordHeaderError
	switch {
	case errors.As(e.Err, &unknown):
		return fmt.Sprintf("the TLS certificate of %s is signed by an authority this machine does not trust (a mirror with its own certificate authority, or a proxy that intercepts HTTPS): add that authority to the system's trust store (on Linux SSL_CERT_FILE=FILE also works), or use an http:// mirror", h)
	case errors.As(e.Err, &name):
		names := name.Certificate.DNSNames
		for _, ip := range name.Certificate.IPAddresses {
			names = append(names, ip.String())
		}
		return fmt.Sprintf("%s showed a TLS certificate for %s, not for %s: the URL names the wrong host, or something between intercepts the connection", h, strings.Join(names, ", "), name.Host)
	case errors.As(e.Err, &invalid) && invalid.Reason == x509.Expired:
		return fmt.Sprintf("the TLS certificate of %s has expired or is not valid yet: check this machine's clock (date), else the server's certificate", h)
	case errors.As(e.Err, &record):
		return fmt.Sprintf("%s does not speak TLS on that port: use an http:// URL for it", e.Host)
	}
	return fmt.Sprintf("the TLS handshake with %s failed (%v)", h, e.Err)
}

func (e *FetchError) statusWhy() string {
	u, _ := url.Parse(e.URL)
	path := e.URL
	if u != nil {
		path = u.Path
	}
	switch c := e.StatusCode; {
	case c == http.StatusNotFound || c == http.StatusGone:
		return fmt.Sprintf("%s has no file %s (it answered %s)", e.Host, path, e.Status)
	case c == http.StatusUnauthorized || c == http.StatusForbidden:
		return fmt.Sprintf("%s refused access to %s (it answered %s)", e.Host, path, e.Status)
	case c == http.StatusProxyAuthRequired:
		return fmt.Sprintf("the proxy %s wants credentials (407): put them in the proxy URL, like HTTPS_PROXY=http://USER:PASSWORD@proxy:3128", e.Proxy)
	case c >= 500:
		return fmt.Sprintf("%s failed to serve %s (it answered %s): try again later", e.Host, path, e.Status)
	}
	return fmt.Sprintf("%s answered %s for %s", e.Host, e.Status, path)
}

// proxyNote says whether the request went through a proxy, and how to use
// one, where that matters: when the network was the problem.
func (e *FetchError) proxyNote() string {
	switch e.Reason {
	case HTTPStatus:
		return ""
	}
	if e.Proxy != "" {
		return "The request went through the proxy " + redactProxy(e.Proxy) + " (from HTTPS_PROXY or HTTP_PROXY; NO_PROXY lists hosts reached directly)"
	}
	if set := proxyVarsSet(); len(set) > 0 {
		return fmt.Sprintf("pixie connected directly although %s is set: NO_PROXY (or a loopback address) exempts %s, or the value is not a proxy URL like http://proxy.lan:3128", strings.Join(set, " and "), e.hostOnly())
	}
	return "pixie connects through a proxy when HTTPS_PROXY (HTTP_PROXY for http:// URLs) is set in its environment, with NO_PROXY for exceptions; none is set"
}

// proxyVarsSet lists the proxy variables set in this process's
// environment, which http.ProxyFromEnvironment reads.
func proxyVarsSet() []string {
	var set []string
	for _, v := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"} {
		if os.Getenv(v) != "" {
			set = append(set, v)
		}
	}
	return set
}

// redactProxy drops a password from a proxy URL shown in a message.
func redactProxy(p string) string {
	u, err := url.Parse(p)
	if err != nil {
		return p
	}
	return u.Redacted()
}

// classify turns the error of a request for rawURL, sent through proxy
// (nil for a direct connection) by a client that waits up to wait, into a
// *FetchError. A cancelled ctx is returned as it is: the user stopped it.
func classify(ctx context.Context, rawURL string, proxy *url.URL, wait time.Duration, err error) error {
	if ctx.Err() != nil && !errors.Is(err, context.DeadlineExceeded) {
		return ctx.Err()
	}
	e := &FetchError{URL: rawURL, Err: err, Reason: ConnectionLost}
	var ue *url.Error
	if errors.As(err, &ue) {
		e.Err = ue.Err // the message already names the URL
	}
	if u, perr := url.Parse(rawURL); perr == nil {
		e.Host = u.Host
	}
	if proxy != nil {
		e.Proxy = proxy.String()
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "proxyconnect" {
		e.ProxyFailed = true
		e.Host = proxy.Host
	}
	var dns *net.DNSError
	var netErr net.Error
	var unknown x509.UnknownAuthorityError
	var name x509.HostnameError
	var invalid x509.CertificateInvalidError
	var record tls.RecordHeaderError
	var verify *tls.CertificateVerificationError
	var alert tls.AlertError
	switch {
	case errors.As(err, &dns):
		// Not found, or no DNS server answered: either way the name
		// does not resolve here.
		e.Reason = NoDNS
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Reason = Refused
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.EADDRNOTAVAIL):
		e.Reason = NoRoute
	case errors.As(err, &unknown), errors.As(err, &name), errors.As(err, &invalid), errors.As(err, &record), errors.As(err, &verify), errors.As(err, &alert):
		e.Reason = TLSFailure
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		e.Reason = Timeout
		e.Wait = wait
	}
	return e
}

// statusError is the *FetchError for an answer that is not a success.
func statusError(rawURL string, proxy *url.URL, resp *http.Response) *FetchError {
	e := &FetchError{URL: rawURL, Reason: HTTPStatus, StatusCode: resp.StatusCode, Status: resp.Status, Host: resp.Request.URL.Host}
	if proxy != nil {
		e.Proxy = proxy.String()
	}
	return e
}

// withHint fills in the hint of a *FetchError in err that has none. Call
// it before wrapping err: fmt.Errorf formats its message at once.
func withHint(err error, hint string) error {
	var fe *FetchError
	if errors.As(err, &fe) && fe.Hint == "" {
		fe.Hint = hint
	}
	return err
}

// mirrorHint says how to get r's files from elsewhere: where --mirror
// points, or what it must hold.
func mirrorHint(r Request) string {
	switch r.OS {
	case "fedora-coreos":
		if r.Mirror == "" {
			return "To pull without reaching it, give --mirror URL: a local copy of " + FCOSBase + " (its streams/ and prod/ folders)"
		}
		return "Check --mirror " + r.Mirror + ": it must hold a copy of " + FCOSBase + " (streams/STREAM.json and the prod/ files it lists)"
	case "flatcar":
		if r.Mirror == "" {
			return "To pull without reaching it, give --mirror URL: a local copy holding CHANNEL/ARCH-usr/VERSION/ as https://CHANNEL." + flatcarHost + "/ARCH-usr/VERSION/ does"
		}
		return "Check --mirror " + r.Mirror + ": it must hold CHANNEL/ARCH-usr/VERSION/ (version.txt, and the PXE files with their .DIGESTS and .sig files)"
	case "generic":
		return "Check the --url, or serve the file from a host this machine reaches"
	}
	return ""
}

// briefly is err's message without the advice, for a log line about a
// retry.
func briefly(err error) string {
	var fe *FetchError
	if errors.As(err, &fe) {
		return fe.why()
	}
	return err.Error()
}
