package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"testing"
	"time"
)

// `pixie ui` prints a link that signs a browser in, serves the daemon's
// status through the page's API, and stops on Ctrl-C.
func TestCLIUI(t *testing.T) {
	d := startDaemon(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"--socket", d.Socket, "ui", "--no-browser"}, strings.NewReader(""), &out, &errOut)
	}()
	link := regexp.MustCompile(`http://127\.0\.0\.1:\d+/login\?token=\S+`)
	var url string
	for deadline := time.Now().Add(5 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		url = link.FindString(out.String())
	}
	if url == "" {
		t.Fatalf("no login link printed:\n%s\n%s", out.String(), errOut.String())
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "pixie-csrf") {
		t.Fatalf("the link led to %s:\n%s", resp.Status, body)
	}
	base := url[:strings.Index(url, "/login")]
	resp, err = hc.Get(base + "/api/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"eth0"`) {
		t.Errorf("status through the dashboard: %s %s", resp.Status, body)
	}
	cancel()
	select {
	case c := <-code:
		if c != 0 || !strings.Contains(out.String(), "dashboard stopped") {
			t.Errorf("after Ctrl-C: exit %d\n%s\n%s", c, out.String(), errOut.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("pixie ui did not stop")
	}
}

func TestCLIUIRefusals(t *testing.T) {
	wantFail(t, nil, exitUsage, []string{"--listen 0.0.0.0:8088: give a loopback address", "ssh -L"}, "ui", "--listen", "0.0.0.0:8088")
	wantFail(t, nil, exitUsage, []string{"--listen 8088"}, "ui", "--listen", "8088")
	code, _, errOut := pixie(t, nil, "", "--socket", t.TempDir()+"/none.sock", "ui", "--no-browser")
	if code != exitFailure || !strings.Contains(errOut, "not running") {
		t.Errorf("no daemon: exit %d %s", code, errOut)
	}
}
