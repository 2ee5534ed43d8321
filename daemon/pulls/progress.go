package pulls

import (
	"strings"
	"sync"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/images"
)

// progress is the images.Progress of one job: it keeps each file's
// figures in the job and publishes them.
type progress struct {
	m *Manager
	j *job
}

func (p *progress) Start(name string, total, already int64) images.ProgressBar {
	p.j.mu.Lock()
	idx := -1
	for i, f := range p.j.files {
		if f.Name == name {
			idx = i // a retry of the same file
		}
	}
	f := api.PullFile{Name: name, Total: total, Done: already, State: "downloading"}
	if idx < 0 {
		p.j.files = append(p.j.files, f)
		idx = len(p.j.files) - 1
	} else {
		p.j.files[idx] = f
	}
	p.j.mu.Unlock()
	p.m.publish(p.j, true)
	return &bar{p: p, idx: idx}
}

type bar struct {
	p   *progress
	idx int
}

func (b *bar) Write(x []byte) (int, error) {
	b.p.j.mu.Lock()
	b.p.j.files[b.idx].Done += int64(len(x))
	b.p.j.mu.Unlock()
	b.p.m.publish(b.p.j, false)
	return len(x), nil
}

func (b *bar) Finish(err error) {
	b.p.j.mu.Lock()
	f := &b.p.j.files[b.idx]
	if err != nil {
		f.State = "failed"
	} else {
		f.State = "done"
		if f.Total < 0 {
			f.Total = f.Done
		}
	}
	b.p.j.mu.Unlock()
	b.p.m.publish(b.p.j, true)
}

// logWriter keeps the puller's decision lines (one per Write) in the job's
// log and the daemon's.
type logWriter struct {
	m  *Manager
	j  *job
	mu sync.Mutex
}

func (w *logWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if line == "" {
			continue
		}
		w.m.log.Info("image pull: "+line, "pull", w.j.id, "image", w.j.key)
		w.j.mu.Lock()
		w.j.log = append(w.j.log, line)
		if len(w.j.log) > logLines {
			w.j.logOffset += len(w.j.log) - logLines
			w.j.log = w.j.log[len(w.j.log)-logLines:]
		}
		w.j.mu.Unlock()
	}
	w.m.publish(w.j, true)
	return len(b), nil
}
