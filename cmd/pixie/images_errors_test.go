package main

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pixie-boot/pixie/daemon/control/controltest"
	"github.com/pixie-boot/pixie/daemon/images"
)

// startDaemonWith starts a test daemon whose image pulls hook adjusts.
func startDaemonWith(t *testing.T, hook func(*images.Puller)) *testDaemon {
	t.Helper()
	return &testDaemon{controltest.Start(t, controltest.Options{AnyUID: true, KeepAlive: 100 * time.Millisecond, Puller: hook})}
}

// offline makes the puller connect directly and resolve no name: a test
// never sends a DNS query or reaches a configured proxy.
func offline(p *images.Puller) {
	p.Proxy = func(*http.Request) (*url.URL, error) { return nil, nil }
	p.Resolver = &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("no DNS server in this test")
	}}
}

func clearProxyVars(t *testing.T) {
	for _, v := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "SUDO_USER"} {
		t.Setenv(v, "")
	}
}

const (
	cliNoProxy  = "pixie connects through a proxy when HTTPS_PROXY (HTTP_PROXY for http:// URLs) is set in its environment, with NO_PROXY for exceptions; none is set"
	fcosMetaErr = "read the Fedora CoreOS stream metadata: could not download "
)

func fcosMirror(m string) string {
	return "Check --mirror " + m + ": it must hold a copy of https://builds.coreos.fedoraproject.org (streams/STREAM.json and the prod/ files it lists)"
}

// Each failure prints one message that says what pixie tried, why it
// failed and what to do, and exits 1.
func TestCLIImagesPullNetworkErrors(t *testing.T) {
	clearProxyVars(t)
	d := startDaemonWith(t, offline)

	notFound := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notFound.Close)
	nfHost := strings.TrimPrefix(notFound.URL, "http://")

	untrusted := httptest.NewUnstartedServer(http.NotFoundHandler())
	untrusted.Config.ErrorLog = log.New(io.Discard, "", 0)
	untrusted.StartTLS()
	t.Cleanup(untrusted.Close)

	done := make(chan struct{})
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-done:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(done); silent.Close() })
	silentHost := strings.TrimPrefix(silent.URL, "http://")

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{{
		"no DNS", []string{"--mirror", "http://pixie-mirror.invalid"},
		fcosMetaErr + "http://pixie-mirror.invalid/streams/stable.json: the name pixie-mirror.invalid does not resolve: this machine has no DNS server that knows it, or no network to reach one. " +
			cliNoProxy + ". " + fcosMirror("http://pixie-mirror.invalid"),
	}, {
		"no DNS, no mirror", nil,
		fcosMetaErr + "https://builds.coreos.fedoraproject.org/streams/stable.json: the name builds.coreos.fedoraproject.org does not resolve: this machine has no DNS server that knows it, or no network to reach one. " +
			cliNoProxy + ". To pull without reaching it, give --mirror URL: a local copy of https://builds.coreos.fedoraproject.org (its streams/ and prod/ folders)",
	}, {
		"untrusted TLS", []string{"--mirror", untrusted.URL},
		fcosMetaErr + untrusted.URL + "/streams/stable.json: the TLS certificate of 127.0.0.1 is signed by an authority this machine does not trust (a mirror with its own certificate authority, or a proxy that intercepts HTTPS):" +
			" add that authority to the system's trust store (on Linux SSL_CERT_FILE=FILE also works), or use an http:// mirror. " + cliNoProxy + ". " + fcosMirror(untrusted.URL),
	}, {
		"404 from a mirror", []string{"--mirror", notFound.URL},
		fcosMetaErr + notFound.URL + "/streams/stable.json: " + nfHost + " has no file /streams/stable.json (it answered 404 Not Found). " + fcosMirror(notFound.URL),
	}, {
		"timeout", []string{"--mirror", silent.URL, "--timeout", "300ms"},
		fcosMetaErr + silent.URL + "/streams/stable.json: " + silentHost + " did not answer within 300ms (a slow or unreachable host, or a firewall dropping the traffic). " +
			cliNoProxy + ". " + fcosMirror(silent.URL),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"images", "pull", "fedora-coreos"}, tc.args...)
			code, out, errOut := pixie(t, d, "", args...)
			if code != exitFailure || out != "" {
				t.Errorf("exit %d, stdout %q; want exit 1 and nothing on stdout", code, out)
			}
			if diff := cmp.Diff(tc.want+"\n", errOut); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
		})
	}

	code, _, errOut := pixie(t, d, "", "images", "pull", "fedora-coreos", "--timeout", "0s")
	if code != exitUsage || !strings.Contains(errOut, "--timeout 0s: give a positive duration, like 30s or 2m") {
		t.Errorf("--timeout 0: exit %d, %q", code, errOut)
	}
}
