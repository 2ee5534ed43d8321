package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pixie-boot/pixie/daemon/api"
)

// pullPoll is how often a followed pull is read back from the daemon, in
// case the stream dropped the snapshot that ended it.
const pullPoll = 2 * time.Second

// pull starts (or joins) a pull in the daemon and, unless detach, renders
// its progress until it ends.
func (c *cli) pull(cmd *cobra.Command, r api.PullRequest, detach bool) error {
	ctx := cmd.Context()
	client := c.client()
	var stream *api.PullStream
	if !detach {
		// Connect first, so no update falls between the start and the
		// stream.
		var err error
		if stream, err = client.PullStream(ctx); err != nil {
			return err
		}
		defer stream.Close()
	}
	sctx, cancel := callCtx(cmd)
	p, err := client.StartPull(sctx, r)
	cancel()
	if err != nil {
		return err
	}
	if p.Joined {
		fmt.Fprintf(c.errOut, "%s is being pulled already (pull %s, started %s): following it\n", p.Key, p.ID, formatAge(c.now(), p.StartedAt))
	}
	if detach {
		if c.json {
			return printJSON(c.out, p)
		}
		_, err := fmt.Fprintf(c.out, "pull %s of %s started: follow it with `pixie images pulls`, stop it with `pixie images cancel %s`\n", p.ID, p.Key, p.ID)
		return err
	}
	tty := false
	if fd, ok := c.errOut.(*os.File); ok {
		tty = term.IsTerminal(int(fd.Fd()))
	}
	view := newPullView(c.errOut, tty)
	view.show(p)
	poll := time.NewTicker(pullPoll)
	defer poll.Stop()
	for !p.Ended() {
		select {
		case <-ctx.Done():
			view.stop()
			fmt.Fprintf(c.errOut, "stopped watching: pull %s goes on in the daemon (`pixie images pulls` shows it, `pixie images cancel %s` stops it)\n", p.ID, p.ID)
			return ctx.Err()
		case u, ok := <-stream.Pulls():
			if !ok {
				// The stream ended (daemon restarting?): ask instead.
				if err := stream.Err(); err != nil && ctx.Err() == nil {
					stream, err = client.PullStream(ctx)
					if err != nil {
						return fmt.Errorf("lost the pull's progress: %w", err)
					}
				}
				continue
			}
			if u.ID == p.ID {
				p = u
			}
		case <-poll.C:
			gctx, cancel := callCtx(cmd)
			u, err := client.Pull(gctx, p.ID)
			cancel()
			if err != nil {
				return err
			}
			p = u
		}
		view.show(p)
	}
	view.stop()
	return c.pullEnded(p)
}

// pullEnded prints how a followed pull ended.
func (c *cli) pullEnded(p api.Pull) error {
	switch p.State {
	case api.PullFailed:
		return errors.New(p.Error)
	case api.PullCancelled:
		return fmt.Errorf("pull %s of %s: %s", p.ID, p.Key, p.Error)
	}
	if c.json {
		return printJSON(c.out, p.Result)
	}
	res := p.Result
	verb := "pulled"
	if len(res.Downloaded) == 0 {
		verb = "already present, verified"
	}
	fmt.Fprintf(c.out, "%s %s %s: %s (%s in the asset store)\n", res.Image.OS, res.Image.Stream, res.Image.Version, verb, res.Image.ID)
	if l := res.Loaders; l != nil {
		lverb := "pulled"
		if !l.Downloaded {
			lverb = "already present, verified"
		}
		var from []string
		for _, f := range l.Files {
			from = append(from, f.Name+" from "+f.Package)
		}
		fmt.Fprintf(c.out, "Fedora %s shim and GRUB for Secure Boot: %s (%s; %s in the asset store)\n", l.Release, lverb, strings.Join(from, ", "), l.Dir)
	}
	if res.Image.OS != "generic" {
		fmt.Fprintf(c.out, "use it: pixie profiles add NAME --os %s --%s %s --ssh-key ~/.ssh/id_ed25519.pub\n",
			res.Image.OS, map[bool]string{true: "channel", false: "stream"}[res.Image.OS == "flatcar"], res.Image.Stream)
	}
	return nil
}

// pullView renders pull snapshots: a bar per file on a terminal, plain
// lines (each file's start and end, and the daemon's decisions) otherwise.
type pullView struct {
	w       io.Writer
	tty     bool
	logSeen int // lines of the pull's log already printed
	files   map[string]*fileView
}

type fileView struct {
	bar   *progressbar.ProgressBar
	state string
	start time.Time
	from  int64
}

func newPullView(w io.Writer, tty bool) *pullView {
	return &pullView{w: w, tty: tty, files: map[string]*fileView{}}
}

func (v *pullView) show(p api.Pull) {
	// Log lines first: they say what happened before the figures moved.
	skip := v.logSeen - p.LogOffset
	if skip < 0 {
		skip = 0 // lines scrolled out of the daemon's window
	}
	for i := skip; i < len(p.Log); i++ {
		if v.tty {
			fmt.Fprintln(v.w) // off the bar's line
		}
		fmt.Fprintln(v.w, p.Log[i])
	}
	v.logSeen = p.LogOffset + len(p.Log)
	for _, f := range p.Files {
		fv := v.files[f.Name]
		if fv == nil || (fv.state != "downloading" && f.State == "downloading") {
			fv = &fileView{start: time.Now(), from: f.Done}
			v.files[f.Name] = fv
			if v.tty {
				fv.bar = progressbar.NewOptions64(f.Total,
					progressbar.OptionSetWriter(v.w),
					progressbar.OptionSetDescription(f.Name),
					progressbar.OptionShowBytes(true),
					progressbar.OptionShowTotalBytes(true),
					progressbar.OptionSetPredictTime(true),
					progressbar.OptionThrottle(100*time.Millisecond),
					progressbar.OptionFullWidth(),
					progressbar.OptionOnCompletion(func() { fmt.Fprintln(v.w) }),
				)
			} else {
				size := "unknown size"
				if f.Total >= 0 {
					size = humanBytes(f.Total)
				}
				from := ""
				if f.Done > 0 {
					from = ", resuming at " + humanBytes(f.Done)
				}
				fmt.Fprintf(v.w, "downloading %s (%s%s)\n", f.Name, size, from)
			}
		}
		if fv.bar != nil {
			_ = fv.bar.Set64(f.Done)
		}
		if fv.state == "downloading" && f.State != "downloading" || fv.state == "" && f.State != "downloading" {
			v.finish(fv, f)
		}
		fv.state = f.State
	}
}

func (v *pullView) finish(fv *fileView, f api.PullFile) {
	if fv.bar != nil {
		if f.State == "done" {
			_ = fv.bar.Finish()
		} else {
			_ = fv.bar.Exit()
		}
		return
	}
	n := f.Done - fv.from
	if f.State != "done" {
		fmt.Fprintf(v.w, "%s: stopped after %s\n", f.Name, humanBytes(f.Done))
		return
	}
	d := time.Since(fv.start)
	rate := ""
	if s := d.Seconds(); s > 0 {
		rate = fmt.Sprintf(", %s/s", humanBytes(int64(float64(n)/s)))
	}
	fmt.Fprintf(v.w, "%s: %s in %s%s\n", f.Name, humanBytes(n), d.Round(time.Millisecond), rate)
}

// stop ends any bar still drawn, so the next line starts clean.
func (v *pullView) stop() {
	for _, fv := range v.files {
		if fv.bar != nil && fv.state == "downloading" {
			_ = fv.bar.Exit()
		}
	}
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

func newImagesPullsCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "pulls",
		Short: "List the image pulls the daemon runs and recently ran",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := callCtx(cmd)
			defer cancel()
			ps, err := c.client().Pulls(ctx)
			if err != nil {
				return err
			}
			if c.json {
				return printJSON(c.out, ps)
			}
			if len(ps) == 0 {
				_, err := fmt.Fprintln(c.out, "no image pulls since the daemon started: start one with `pixie images pull fedora-coreos`")
				return err
			}
			var rows [][]string
			for _, p := range ps {
				var done, total int64
				unknown := false
				for _, f := range p.Files {
					done += f.Done
					if f.Total < 0 {
						unknown = true
					}
					total += f.Total
				}
				progress := humanBytes(done)
				if !unknown && total > 0 {
					progress = fmt.Sprintf("%s of %s (%d%%)", humanBytes(done), humanBytes(total), done*100/total)
				}
				note := p.Error
				if p.Result != nil {
					note = p.Result.Image.ID
				}
				rows = append(rows, []string{p.ID, p.Key, p.State, progress, formatAge(c.now(), p.StartedAt), orDash(note)})
			}
			_, err = fmt.Fprint(c.out, table([]string{"PULL", "IMAGE", "STATE", "PROGRESS", "STARTED", "RESULT"}, rows))
			return err
		},
	}
}

func newImagesCancelCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel PULL|IMAGE",
		Short: "Stop a running image pull (as `pixie images pulls` shows it)",
		Long: `Stop a running pull, named by its ID or its image (e.g. fedora-coreos/stable/x86_64).
The part downloaded so far stays, so pulling again resumes from it.`,
		Args: exactArgs(1, "one pull ID or image, as `pixie images pulls` shows it"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := callCtx(cmd)
			defer cancel()
			p, err := c.client().CancelPull(context.WithoutCancel(ctx), args[0])
			if err != nil {
				return err
			}
			if c.json {
				return printJSON(c.out, p)
			}
			switch p.State {
			case api.PullCancelled:
				_, err = fmt.Fprintf(c.out, "pull %s of %s cancelled\n", p.ID, p.Key)
			case api.PullRunning:
				_, err = fmt.Fprintf(c.out, "pull %s of %s is stopping\n", p.ID, p.Key)
			default:
				_, err = fmt.Fprintf(c.out, "pull %s of %s had ended already (%s)\n", p.ID, p.Key, p.State)
			}
			return err
		},
	}
}
