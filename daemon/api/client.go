package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// MaxBodyBytes is the largest request body the daemon accepts.
const MaxBodyBytes = 1 << 20

// Client talks to the pixie daemon over its Unix socket. It is safe for
// concurrent use. Every method takes a context: a caller that wants a
// deadline sets one on it.
type Client struct {
	socket string
	hc     *http.Client
}

// NewClient returns a client for the daemon listening on socketPath. It does
// not connect until a method is called.
func NewClient(socketPath string) *Client {
	tr := &http.Transport{
		// Every request goes to the socket whatever the URL's host says; no
		// proxy from the environment may divert it.
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socketPath)
		},
		DisableCompression:  true,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}
	return &Client{socket: socketPath, hc: &http.Client{Transport: tr}}
}

// Socket returns the socket path the client connects to.
func (c *Client) Socket() string { return c.socket }

// Status returns the daemon's current state.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.do(ctx, http.MethodGet, "/v1/status", nil, nil, &st)
	return st, err
}

// Pause stops offering network boot (the servers stay up) and returns the
// status after the change. Pausing a paused daemon is not an error.
func (c *Client) Pause(ctx context.Context) (Status, error) {
	var st Status
	err := c.do(ctx, http.MethodPost, "/v1/pause", nil, nil, &st)
	return st, err
}

// Resume offers network boot again after Pause.
func (c *Client) Resume(ctx context.Context) (Status, error) {
	var st Status
	err := c.do(ctx, http.MethodPost, "/v1/resume", nil, nil, &st)
	return st, err
}

// Machines lists every machine pixie has a record of, by MAC.
func (c *Client) Machines(ctx context.Context) ([]Machine, error) {
	var ms []Machine
	err := c.do(ctx, http.MethodGet, "/v1/machines", nil, nil, &ms)
	return ms, err
}

// Machine returns the machine with that MAC (any spelling); an *Error with
// CodeNotFound if pixie has no record of it.
func (c *Client) Machine(ctx context.Context, mac string) (Machine, error) {
	var m Machine
	err := c.do(ctx, http.MethodGet, "/v1/machines/"+url.PathEscape(mac), nil, nil, &m)
	return m, err
}

// PutMachine creates the machine m.MAC or replaces all its fields, and
// returns it as stored. To change one field, read the machine first.
func (c *Client) PutMachine(ctx context.Context, m Machine) (Machine, error) {
	var out Machine
	err := c.do(ctx, http.MethodPut, "/v1/machines/"+url.PathEscape(m.MAC), nil, m, &out)
	return out, err
}

// DeleteMachine forgets a machine; its boot history stays.
func (c *Client) DeleteMachine(ctx context.Context, mac string) error {
	return c.do(ctx, http.MethodDelete, "/v1/machines/"+url.PathEscape(mac), nil, nil, nil)
}

// Profiles lists every profile, by name.
func (c *Client) Profiles(ctx context.Context) ([]Profile, error) {
	var ps []Profile
	err := c.do(ctx, http.MethodGet, "/v1/profiles", nil, nil, &ps)
	return ps, err
}

// Profile returns the named profile.
func (c *Client) Profile(ctx context.Context, name string) (Profile, error) {
	var p Profile
	err := c.do(ctx, http.MethodGet, "/v1/profiles/"+url.PathEscape(name), nil, nil, &p)
	return p, err
}

// CreateProfile stores a new profile; an *Error with CodeExists if the name
// is taken.
func (c *Client) CreateProfile(ctx context.Context, p Profile) (Profile, error) {
	var out Profile
	err := c.do(ctx, http.MethodPost, "/v1/profiles", nil, p, &out)
	return out, err
}

// UpdateProfile replaces all fields of the existing profile p.Name.
func (c *Client) UpdateProfile(ctx context.Context, p Profile) (Profile, error) {
	var out Profile
	err := c.do(ctx, http.MethodPut, "/v1/profiles/"+url.PathEscape(p.Name), nil, p, &out)
	return out, err
}

// DeleteProfile removes a profile; an *Error with CodeInUse while machines
// use it or while it is the default profile.
func (c *Client) DeleteProfile(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/v1/profiles/"+url.PathEscape(name), nil, nil, nil)
}

// Boots returns the MACs with recent boot activity, newest first. A limit of
// 0 lets the daemon choose.
func (c *Client) Boots(ctx context.Context, limit int) ([]BootSummary, error) {
	var bs []BootSummary
	err := c.do(ctx, http.MethodGet, "/v1/boots", limitQuery(limit), nil, &bs)
	return bs, err
}

// Leases returns the DHCP mode, the pool and the lease table.
func (c *Client) Leases(ctx context.Context) (Leases, error) {
	var ls Leases
	err := c.do(ctx, http.MethodGet, "/v1/leases", nil, nil, &ls)
	return ls, err
}

// Timeline returns a MAC's boot events, oldest first: the newest limit of
// them (0 lets the daemon choose).
func (c *Client) Timeline(ctx context.Context, mac string, limit int) ([]Event, error) {
	var es []Event
	err := c.do(ctx, http.MethodGet, "/v1/machines/"+url.PathEscape(mac)+"/timeline", limitQuery(limit), nil, &es)
	return es, err
}

func limitQuery(limit int) url.Values {
	if limit <= 0 {
		return nil
	}
	return url.Values{"limit": {strconv.Itoa(limit)}}
}

// do sends one request and decodes the JSON answer into out (if not nil).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	resp, err := c.send(ctx, method, path, query, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("read the pixie daemon's answer to %s %s: it is not the JSON a pixie daemon sends (%w): check that %s is the pixie daemon's socket (--socket, $%s) and that the daemon is as new as this pixie", method, path, err, c.socket, SocketEnv)
	}
	return nil
}

// send performs a request and returns the response if its status is a
// success; otherwise the daemon's error.
func (c *Client) send(ctx context.Context, method, path string, query url.Values, in any) (*http.Response, error) {
	var body io.Reader
	contentType := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body, contentType = bytes.NewReader(b), "application/json"
	}
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	return c.sendRaw(ctx, method, path, contentType, body)
}

// sendRaw is send with a body the caller encoded (a stream, multipart).
func (c *Client) sendRaw(ctx context.Context, method, path, contentType string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://pixie"+path, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("the pixie daemon on %s did not answer in time (%w): it may be stuck; see its log (`journalctl -u pixie` on Linux) or restart it with `sudo pixie restart`", c.socket, ctx.Err())
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return nil, dialError(c.socket, err)
		}
		return nil, fmt.Errorf("lost the connection to the pixie daemon on %s before it answered (%w): it may have stopped or restarted; check `pixie status`", c.socket, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		return nil, readError(resp)
	}
	return resp, nil
}

// readError decodes the daemon's JSON error, or makes one from whatever
// else answered.
func readError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &Error{Status: resp.StatusCode}
	if json.Unmarshal(b, e) != nil || e.Message == "" {
		e.Code = codeForStatus(resp.StatusCode)
		e.Message = fmt.Sprintf("pixie daemon answered %s: %s", resp.Status, bytes.TrimSpace(b))
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
			// Not a pixie error answer: a daemon that predates this request.
			e.Message = fmt.Sprintf("the pixie daemon does not know %s %s (it answered %s): it is older than this pixie (restart it after upgrading: `sudo pixie restart`), or what answers on the socket is not a pixie daemon", resp.Request.Method, resp.Request.URL.Path, resp.Status)
		}
	}
	return e
}

func codeForStatus(status int) string {
	switch status {
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusForbidden:
		return CodeForbidden
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return CodeBadRequest
	case http.StatusInsufficientStorage:
		return CodeDiskFull
	}
	return CodeInternal
}
