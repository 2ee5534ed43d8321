package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
)

// PullStream is a live feed of image pull progress from Client.PullStream.
// Each update is a whole snapshot of one pull, so a reader that misses
// some loses only intermediate figures; the end of a pull is also
// available from Client.Pull.
type PullStream struct {
	pulls  chan Pull
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// Pulls returns the channel updates arrive on; it is closed when the
// stream ends, and Err then says why.
func (s *PullStream) Pulls() <-chan Pull { return s.pulls }

// Err waits for the stream to end and returns why (nil after Close).
func (s *PullStream) Err() error {
	<-s.done
	return s.err
}

// Close ends the stream and waits for its reader to stop.
func (s *PullStream) Close() {
	s.cancel()
	<-s.done
}

// PullStream connects to the daemon's live event stream and delivers its
// pull events (boot events are skipped). Connect before StartPull so no
// update falls between the two.
func (c *Client) PullStream(ctx context.Context) (*PullStream, error) {
	sctx, cancel := context.WithCancel(ctx)
	resp, err := c.send(sctx, http.MethodGet, "/v1/events", nil, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("pixie daemon answered /v1/events with %q, not an event stream", mt)
	}
	s := &PullStream{pulls: make(chan Pull, 16), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer close(s.pulls)
		defer resp.Body.Close()
		err := parseSSE(sctx, bufio.NewReader(resp.Body), func(name, data string) error {
			if name != SSEEventPull {
				return nil
			}
			var p Pull
			if err := json.Unmarshal([]byte(data), &p); err != nil {
				return fmt.Errorf("pixie event stream: bad pull event %q: %w", data, err)
			}
			select {
			case s.pulls <- p:
				return nil
			case <-sctx.Done():
				return sctx.Err()
			}
		})
		if ctx.Err() != nil {
			err = ctx.Err()
		} else if sctx.Err() != nil {
			err = nil // Close
		}
		s.err = err
	}()
	return s, nil
}
