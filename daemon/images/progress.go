package images

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress shows downloads as they run.
type Progress interface {
	// Start begins one file: total bytes (-1 if unknown), of which
	// already were there (a resumed download).
	Start(name string, total, already int64) ProgressBar
}

// ProgressBar receives the bytes of one download.
type ProgressBar interface {
	io.Writer
	Finish(err error)
}

// NewProgress returns a bar with rate and ETA for a terminal, or plain lines
// (start and end of each file) otherwise.
func NewProgress(w io.Writer, tty bool) Progress {
	if tty {
		return barProgress{w}
	}
	return lineProgress{w}
}

type barProgress struct{ w io.Writer }

func (b barProgress) Start(name string, total, already int64) ProgressBar {
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription(name),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionFullWidth(),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(b.w) }),
	)
	if already > 0 {
		bar.Set64(already)
	}
	return &barWriter{bar}
}

type barWriter struct{ bar *progressbar.ProgressBar }

func (b *barWriter) Write(p []byte) (int, error) { return b.bar.Write(p) }
func (b *barWriter) Finish(err error) {
	if err == nil {
		b.bar.Finish()
	} else {
		b.bar.Exit()
	}
}

type lineProgress struct{ w io.Writer }

func (l lineProgress) Start(name string, total, already int64) ProgressBar {
	size := "unknown size"
	if total >= 0 {
		size = humanBytes(total)
	}
	from := ""
	if already > 0 {
		from = fmt.Sprintf(", resuming at %s", humanBytes(already))
	}
	fmt.Fprintf(l.w, "downloading %s (%s%s)\n", name, size, from)
	return &lineWriter{w: l.w, name: name, start: time.Now()}
}

type lineWriter struct {
	w     io.Writer
	name  string
	n     int64
	start time.Time
}

func (l *lineWriter) Write(p []byte) (int, error) { l.n += int64(len(p)); return len(p), nil }
func (l *lineWriter) Finish(err error) {
	d := time.Since(l.start)
	rate := ""
	if s := d.Seconds(); s > 0 {
		rate = fmt.Sprintf(", %s/s", humanBytes(int64(float64(l.n)/s)))
	}
	if err != nil {
		fmt.Fprintf(l.w, "%s: stopped after %s: %v\n", l.name, humanBytes(l.n), err)
		return
	}
	fmt.Fprintf(l.w, "%s: %s in %s%s\n", l.name, humanBytes(l.n), d.Round(time.Millisecond), rate)
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
