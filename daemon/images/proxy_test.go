package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPullThroughProxy runs TestProxyChild in a process of its own: Go's
// http.ProxyFromEnvironment reads the environment once per process, so
// the child sets HTTP_PROXY before anything reads it.
func TestPullThroughProxy(t *testing.T) {
	for _, mode := range []string{"forward", "dead", "malformed"} {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestProxyChild$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), "PIXIE_PROXY_CHILD="+mode)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "--- PASS: TestProxyChild") {
				t.Fatalf("child (%s): %v\n%s", mode, err, out)
			}
		})
	}
}

func TestProxyChild(t *testing.T) {
	mode := os.Getenv("PIXIE_PROXY_CHILD")
	if mode == "" {
		t.Skip("run by TestPullThroughProxy")
	}
	f := newFixture(t)
	// A forward proxy: it serves the fixture's files for any host, so
	// the mirror's name never needs to resolve.
	var mu sync.Mutex
	var hosts []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hosts = append(hosts, r.Host)
		mu.Unlock()
		if !r.URL.IsAbs() {
			http.Error(w, "not a proxy request", http.StatusBadRequest)
			return
		}
		r.URL.Host, r.URL.Scheme, r.RequestURI = "", "", ""
		f.serve(w, r)
	}))
	t.Cleanup(proxy.Close)
	proxyURL := proxy.URL
	if mode == "dead" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		proxyURL = "http://" + ln.Addr().String()
		ln.Close()
	}
	if mode == "malformed" {
		proxyURL = "http://bad\x7fproxy:3128" // a control character: not a URL
	}
	for _, v := range []string{"HTTPS_PROXY", "https_proxy", "http_proxy", "NO_PROXY", "no_proxy"} {
		t.Setenv(v, "")
	}
	t.Setenv("HTTP_PROXY", proxyURL)

	// Nothing overrides the client: this is the proxy choice pixie ships.
	mirror := "http://pixie-mirror.invalid"
	// Names are looked up only by a local server that knows none, so
	// nothing leaves the machine should the proxy not be used.
	_, resolver := startNXDOMAIN(t)
	p := &Puller{Log: &bytes.Buffer{}, RetryDelay: time.Millisecond, Attempts: 1, Resolver: resolver}
	res, err := p.Pull(context.Background(), t.TempDir(), Request{OS: "fedora-coreos", Mirror: mirror})
	switch mode {
	case "forward":
		if err != nil || len(res.Downloaded) != 3 {
			t.Fatalf("pull through the proxy: %v %+v", err, res)
		}
		mu.Lock()
		if len(hosts) != 4 || hosts[0] != "pixie-mirror.invalid" {
			t.Errorf("the proxy saw hosts %q; want the stream and three files from pixie-mirror.invalid", hosts)
		}
		mu.Unlock()
		// An error answered through the proxy says so.
		delete(f.files, "/streams/stable.json")
		_, err = p.Pull(context.Background(), t.TempDir(), Request{OS: "fedora-coreos", Mirror: mirror})
		var fe *FetchError
		if !errors.As(err, &fe) || fe.Proxy != proxyURL || fe.StatusCode != 404 {
			t.Errorf("404 through the proxy: %v", err)
		}
	case "malformed":
		// Go ignores a proxy variable that is not a URL: the message says
		// so rather than claiming none is set.
		var fe *FetchError
		if !errors.As(err, &fe) || fe.Proxy != "" || fe.Reason != NoDNS ||
			!strings.Contains(err.Error(), ". pixie connected directly although HTTP_PROXY is set: NO_PROXY (or a loopback address) exempts pixie-mirror.invalid, or the value is not a proxy URL like http://proxy.lan:3128. ") {
			t.Fatalf("malformed proxy: %v", err)
		}
	case "dead":
		var fe *FetchError
		if !errors.As(err, &fe) || fe.Reason != Refused || !fe.ProxyFailed {
			t.Fatalf("dead proxy: %v", err)
		}
		host := strings.TrimPrefix(proxyURL, "http://")
		wantMessage(t, err, fmt.Sprintf("read the Fedora CoreOS stream metadata: could not download %s/streams/stable.json: the proxy %s refused the connection:"+
			" nothing listens on that port (a mirror or proxy that is not running, or the wrong port). The request went through the proxy %s"+
			" (from HTTPS_PROXY or HTTP_PROXY; NO_PROXY lists hosts reached directly). %s", mirror, host, proxyURL, fcosMirrorHint(mirror)))
	}
}
