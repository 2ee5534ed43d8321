package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// ErrStreamClosed ends an event stream the daemon closed, usually because it
// is shutting down. Reconnect with the last event's ID to miss nothing.
var ErrStreamClosed = errors.New("the pixie daemon closed the event stream")

// SSE event names the daemon sends on /v1/events.
const (
	SSEEventBoot = "boot" // data is an Event
	SSEEventPull = "pull" // data is a Pull: an image pull's progress or end
)

// feed is one connection to the daemon's event stream, delivering the
// events of one kind on a channel.
type feed[T any] struct {
	items  chan T
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// Err waits for the stream to end and returns why: ErrStreamClosed when the
// daemon ended it, the context's error when the caller did, or a read error.
// It returns nil after Close.
func (f *feed[T]) Err() error {
	<-f.done
	return f.err
}

// Close ends the stream and waits for its reader to stop.
func (f *feed[T]) Close() {
	f.cancel()
	<-f.done
}

// subscribe connects to /v1/events and runs read on the stream until it
// ends, read delivering onto the feed's channel.
func subscribe[T any](ctx context.Context, c *Client, q url.Values, read func(context.Context, *bufio.Reader, chan<- T) error) (*feed[T], error) {
	sctx, cancel := context.WithCancel(ctx)
	resp, err := c.send(sctx, http.MethodGet, "/v1/events", q, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("pixie daemon answered /v1/events with %q, not an event stream", mt)
	}
	f := &feed[T]{items: make(chan T, 16), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		defer close(f.items)
		defer resp.Body.Close()
		err := read(sctx, bufio.NewReader(resp.Body), f.items)
		if ctx.Err() != nil {
			err = ctx.Err()
		} else if sctx.Err() != nil {
			err = nil // Close
		}
		f.err = err
	}()
	return f, nil
}

// EventStream is a live feed of boot events from Client.Events.
type EventStream struct{ *feed[Event] }

// Events returns the channel the stream's events arrive on. It is closed
// when the stream ends; Err then says why.
func (s *EventStream) Events() <-chan Event { return s.items }

// Events connects to the daemon's event stream. With after >= 0 the daemon
// first sends every stored event with a greater ID (catch-up), then new ones
// as they happen; with after < 0 only new ones. Connection errors (daemon not
// running, forbidden) are returned here; a stream that breaks later ends with
// Err set, and reconnecting is the caller's job: pass the last ID seen.
func (c *Client) Events(ctx context.Context, after int64) (*EventStream, error) {
	var q url.Values
	if after >= 0 {
		q = url.Values{"after": {strconv.FormatInt(after, 10)}}
	}
	f, err := subscribe(ctx, c, q, readSSE)
	if err != nil {
		return nil, err
	}
	return &EventStream{f}, nil
}

// streamError says in words why an event stream ended, while errors.Is
// and errors.As still see the reading or decoding error.
type streamError struct {
	msg string
	err error
}

func (e *streamError) Error() string { return e.msg }
func (e *streamError) Unwrap() error { return e.err }

// readSSE parses Server-Sent Events and delivers "boot" events until the
// body ends (ErrStreamClosed) or fails.
func readSSE(ctx context.Context, r *bufio.Reader, out chan<- Event) error {
	return parseSSE(ctx, r, func(name, data string) error {
		if name != "" && name != SSEEventBoot {
			return nil // another kind of event: not for this stream
		}
		var ev Event
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			return &streamError{msg: fmt.Sprintf("the pixie daemon sent a boot event this pixie cannot read, %q: are the CLI and the daemon different versions? (`pixie --version`, and `pixie status` for the daemon's)", data), err: err}
		}
		select {
		case out <- ev:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}

// parseSSE reads Server-Sent Events and hands each one's name and data to
// deliver until the body ends (ErrStreamClosed), fails, or deliver fails.
func parseSSE(ctx context.Context, r *bufio.Reader, deliver func(name, data string) error) error {
	var name string
	var data strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if line == "" && errors.Is(err, io.EOF) {
				return ErrStreamClosed
			}
			return &streamError{msg: "the pixie daemon's event stream broke off (did the daemon stop or restart?): run the command again", err: err}
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if data.Len() > 0 {
				if err := deliver(name, data.String()); err != nil {
					return err
				}
			}
			name = ""
			data.Reset()
		case strings.HasPrefix(line, ":"): // comment: keep-alive
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				name = value
			case "data":
				if data.Len() > 0 {
					data.WriteByte('\n')
				}
				data.WriteString(value)
			}
		}
	}
}
