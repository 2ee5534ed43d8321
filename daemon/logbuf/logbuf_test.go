package logbuf

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// sink records each write it receives.
type sink struct {
	mu     sync.Mutex
	writes []string
	err    error
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes = append(s.writes, string(p))
	return len(p), s.err
}

func (s *sink) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.writes...)
}

func waitWrites(t *testing.T, s *sink, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if w := s.got(); len(w) >= n {
			return w
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("waited 5 s for %d writes, got %q", n, s.got())
	return nil
}

func TestLinesAreBatchedWithinTheInterval(t *testing.T) {
	s := &sink{}
	w := New(s, 50*time.Millisecond, 1<<20)
	for i := range 100 {
		w.Write([]byte(strings.Repeat("x", i%7) + "\n"))
	}
	// The first line, after a quiet interval, went out at once; the rest
	// wait for the interval.
	if got := s.got(); len(got) != 1 || got[0] != "\n" {
		t.Fatalf("before the interval: want only the first line written, got %q", got)
	}
	got := waitWrites(t, s, 2)
	if len(got) != 2 || strings.Count(got[1], "\n") != 99 {
		t.Fatalf("want the other 99 lines in one write, got %d writes: %q", len(got), got)
	}
	// A line after a quiet interval is written at once again.
	time.Sleep(60 * time.Millisecond)
	w.Write([]byte("late\n"))
	if got := s.got(); len(got) != 3 || got[2] != "late\n" {
		t.Fatalf("after a quiet interval: writes = %q, want the late line at once", got)
	}
}

func TestLimitFlushesAtOnce(t *testing.T) {
	s := &sink{}
	w := New(s, time.Hour, 64)
	w.Write([]byte("first\n")) // written at once: nothing came before
	s.writes = nil
	w.Write(bytes.Repeat([]byte("a"), 40))
	if len(s.got()) != 0 {
		t.Fatal("flushed under the limit")
	}
	w.Write(bytes.Repeat([]byte("b"), 40))
	got := s.got()
	if len(got) != 1 || len(got[0]) != 80 {
		t.Fatalf("at the limit want one write of 80 bytes, got %q", got)
	}
}

func TestWarningsAreWrittenAtOnceWithWhatCameBefore(t *testing.T) {
	s := &sink{}
	w := New(s, time.Hour, 1<<20)
	log := slog.New(Handler(slog.NewTextHandler(w, nil), w)).With("server", "dhcp")
	w.Write([]byte("start\n")) // written at once: nothing came before
	s.writes = nil
	log.Info("first")
	log.WithGroup("g").Info("second")
	if len(s.got()) != 0 {
		t.Fatalf("info lines written at once: %q", s.got())
	}
	log.Warn("trouble")
	got := s.got()
	if len(got) != 1 {
		t.Fatalf("want one write after the warning, got %q", got)
	}
	for _, want := range []string{"msg=first server=dhcp", "msg=second server=dhcp", "msg=trouble server=dhcp"} {
		if !strings.Contains(got[0], want) {
			t.Errorf("flushed output lacks %q:\n%s", want, got[0])
		}
	}
	if i, j := strings.Index(got[0], "first"), strings.Index(got[0], "trouble"); i > j {
		t.Errorf("lines out of order:\n%s", got[0])
	}
}

func TestCloseFlushesAndWritesThroughAfter(t *testing.T) {
	s := &sink{}
	w := New(s, time.Hour, 1<<20)
	w.Write([]byte("first\n"))
	w.Write([]byte("kept\n"))
	s.writes = nil
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("after\n"))
	if got := s.got(); len(got) != 2 || got[0] != "kept\n" || got[1] != "after\n" {
		t.Fatalf("writes = %q", got)
	}
}

func TestFlushReportsTheWriteError(t *testing.T) {
	s := &sink{err: errors.New("disk full")}
	w := New(s, time.Hour, 1<<20)
	if _, err := w.Write([]byte("first\n")); err == nil {
		t.Fatal("a line written at once did not return the sink's error")
	}
	if _, err := w.Write([]byte("x\n")); err != nil {
		t.Fatalf("Write returned %v; errors belong to Flush", err)
	}
	if err := w.Flush(); err == nil || err.Error() != "disk full" {
		t.Fatalf("Flush = %v, want the sink's error", err)
	}
}
