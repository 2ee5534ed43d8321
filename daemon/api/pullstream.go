package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
)

// PullStream is a live feed of image pull progress from Client.PullStream.
// Each update is a whole snapshot of one pull, so a reader that misses
// some loses only intermediate figures; the end of a pull is also
// available from Client.Pull.
type PullStream struct{ *feed[Pull] }

// Pulls returns the channel updates arrive on; it is closed when the
// stream ends, and Err then says why.
func (s *PullStream) Pulls() <-chan Pull { return s.items }

// PullStream connects to the daemon's live event stream and delivers its
// pull events (boot events are skipped). Connect before StartPull so no
// update falls between the two.
func (c *Client) PullStream(ctx context.Context) (*PullStream, error) {
	f, err := subscribe(ctx, c, nil, readPulls)
	if err != nil {
		return nil, err
	}
	return &PullStream{f}, nil
}

// readPulls delivers the stream's "pull" events until it ends.
func readPulls(ctx context.Context, r *bufio.Reader, out chan<- Pull) error {
	return parseSSE(ctx, r, func(name, data string) error {
		if name != SSEEventPull {
			return nil
		}
		var p Pull
		if err := json.Unmarshal([]byte(data), &p); err != nil {
			return fmt.Errorf("pixie event stream: bad pull event %q: %w", data, err)
		}
		select {
		case out <- p:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}
