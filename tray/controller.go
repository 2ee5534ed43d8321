package tray

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/tray/menu"
)

// Client is the part of the control API the tray uses. *api.Client
// implements it.
type Client interface {
	menu.API
	Status(ctx context.Context) (api.Status, error)
	Boots(ctx context.Context, limit int) ([]api.BootSummary, error)
	Profiles(ctx context.Context) ([]api.Profile, error)
	Events(ctx context.Context, after int64) (*api.EventStream, error)
}

// Config is what a Controller works with. Client and Desktop are
// required; zero durations take the defaults in brackets.
type Config struct {
	Client  Client
	Desktop menu.Desktop
	// Quit ends the app (the Quit item).
	Quit func()
	// ServiceInstalled says whether pixie is installed as a service; nil
	// means it is (and the menu never offers to install it).
	ServiceInstalled func() bool
	// LoginItem reads whether the menu starts at login (known false: no
	// login item here, the toggle is hidden); SetLoginItem changes it.
	// nil: no toggle.
	LoginItem    func() (on, known bool)
	SetLoginItem func(on bool) error
	// Dashboard returns a one-time link into the web dashboard (see
	// menu.Handler.Dashboard); nil: no "Open dashboard" item.
	Dashboard func(ctx context.Context, mac string) (string, error)
	// DataDir is the data folder to open while the daemon cannot say.
	DataDir string
	Log     *slog.Logger
	Now     func() time.Time

	// Poll is how often the state is read without an event, a safety net
	// and the clock for "2 min ago" labels [10s].
	Poll time.Duration
	// MinInterval is the least time between two reads of the state, so a
	// burst of boot events costs a few reads, not one each [250ms].
	MinInterval time.Duration
	// Retry is the first wait before reconnecting to the event stream;
	// it doubles on each failure up to MaxRetry [250ms, 5s].
	Retry, MaxRetry time.Duration
	// Timeout bounds each read of the state [5s] and each clicked action
	// [30s; 10 min for Install service, which waits for a password].
	Timeout, ActionTimeout time.Duration
}

// Controller keeps a menu.State in step with the daemon and carries out
// clicks. Its methods are safe for concurrent use.
type Controller struct {
	cfg     Config
	log     *slog.Logger
	handler menu.Handler

	kick    chan struct{} // a refresh is wanted
	changed chan struct{} // the state changed (buffered 1)

	mu    sync.Mutex
	state menu.State
	known bool // the state has been read once
}

// New returns a controller; Run starts it.
func New(cfg Config) *Controller {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Poll, 10*time.Second)
	def(&cfg.MinInterval, 250*time.Millisecond)
	def(&cfg.Retry, 250*time.Millisecond)
	def(&cfg.MaxRetry, 5*time.Second)
	def(&cfg.Timeout, 5*time.Second)
	def(&cfg.ActionTimeout, 30*time.Second)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ServiceInstalled == nil {
		cfg.ServiceInstalled = func() bool { return true }
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Controller{
		cfg:     cfg,
		log:     log,
		handler: menu.Handler{API: cfg.Client, Desktop: cfg.Desktop, Quit: cfg.Quit, SetLoginItem: cfg.SetLoginItem, Dashboard: cfg.Dashboard},
		kick:    make(chan struct{}, 1),
		changed: make(chan struct{}, 1),
	}
	// Until the first read, say nothing is known rather than "serving".
	c.state = menu.State{Err: menu.ErrConnecting, DataDir: cfg.DataDir,
		ServiceInstalled: true, Dashboard: cfg.Dashboard != nil}
	return c
}

// State returns the current state, with Now set to the present.
func (c *Controller) State() menu.State {
	c.mu.Lock()
	st := c.state
	c.mu.Unlock()
	st.Now = c.cfg.Now()
	return st
}

// Menu builds the menu from the current state.
func (c *Controller) Menu() menu.Menu { return menu.Build(c.State()) }

// Changed receives a value after the state may have changed. Readers call
// State or Menu then; several changes may arrive as one.
func (c *Controller) Changed() <-chan struct{} { return c.changed }

// Click carries out an action in the background: the menu never waits for
// the daemon or a password prompt. A failure shows in the menu for a
// minute; either way the state is read again.
func (c *Controller) Click(ctx context.Context, a menu.Action) {
	c.log.Info("menu: clicked", "action", a.String())
	if a.Kind == menu.Quit {
		if err := c.handler.Do(ctx, a); err != nil {
			c.log.Warn("menu: quit", "err", err)
		}
		return
	}
	timeout := c.cfg.ActionTimeout
	if a.Kind == menu.InstallService {
		timeout = 10 * time.Minute
	}
	go func() {
		actx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if err := c.handler.Do(actx, a); err != nil {
			c.log.Warn("menu: action failed", "action", a.String(), "err", err)
			c.mu.Lock()
			c.state.Notice, c.state.NoticeAt = err.Error(), c.cfg.Now()
			c.mu.Unlock()
			c.notify()
		}
		c.refreshSoon()
	}()
}

// Run keeps the state live until ctx ends: it follows the daemon's event
// stream, reads the state after events (at most once per MinInterval) and
// every Poll, and reconnects with backoff when the daemon goes away.
func (c *Controller) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.followEvents(ctx)
	}()
	defer wg.Wait()

	poll := time.NewTicker(c.cfg.Poll)
	defer poll.Stop()
	var (
		last    time.Time
		wait    *time.Timer
		waiting <-chan time.Time
		pending = true // read once at start
	)
	defer func() {
		if wait != nil {
			wait.Stop()
		}
	}()
	for {
		if pending && waiting == nil {
			if d := c.cfg.MinInterval - time.Since(last); d > 0 {
				wait = time.NewTimer(d)
				waiting = wait.C
			} else {
				c.refresh(ctx)
				last, pending = time.Now(), false
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
			pending = true
		case <-poll.C:
			pending = true
		case <-waiting:
			waiting = nil
		}
	}
}

// refreshSoon asks Run to read the state (coalesced).
func (c *Controller) refreshSoon() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *Controller) notify() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// refresh reads status, recent boots and profiles, and publishes them, or
// the reason they could not be read.
func (c *Controller) refresh(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	st, err := c.cfg.Client.Status(rctx)
	var boots []api.BootSummary
	var profiles []api.Profile
	if err == nil {
		boots, err = c.cfg.Client.Boots(rctx, menu.MaxRecent)
	}
	if err == nil {
		profiles, err = c.cfg.Client.Profiles(rctx)
	}
	if ctx.Err() != nil {
		return // shutting down: keep the last state rather than show an error
	}
	installed := c.cfg.ServiceInstalled()
	var login menu.LoginItemState
	if c.cfg.LoginItem != nil {
		login.On, login.Known = c.cfg.LoginItem()
	}

	c.mu.Lock()
	wasDown, first := c.state.Err != nil, !c.known
	c.known = true
	c.state.ServiceInstalled = installed
	c.state.LoginItem = login
	if err != nil {
		c.state.Err = err
	} else {
		c.state.Err, c.state.Status, c.state.Boots, c.state.Profiles = nil, st, boots, profiles
	}
	c.mu.Unlock()

	switch {
	case err != nil && (first || !wasDown):
		c.log.Warn("pixie service unreachable", "err", err)
	case err == nil && (first || wasDown):
		c.log.Info("connected to the pixie service", "serving", st.Serving, "paused", st.Paused, "interface", st.Interface)
	}
	c.notify()
}

// down reports whether the last read failed.
func (c *Controller) down() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state.Err != nil
}

// followEvents keeps an event stream open and asks for a refresh on every
// event; when the stream cannot be opened or ends, it says so (a refresh
// shows the daemon down) and retries with backoff.
func (c *Controller) followEvents(ctx context.Context) {
	retry := c.cfg.Retry
	for ctx.Err() == nil {
		s, err := c.cfg.Client.Events(ctx, -1)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// One refresh to show the daemon gone, not one per attempt.
			if !c.down() {
				c.refreshSoon()
			}
			c.log.Debug("event stream: cannot connect", "err", err, "retry_in", retry)
			if !sleep(ctx, retry) {
				return
			}
			retry = min(2*retry, c.cfg.MaxRetry)
			continue
		}
		retry = c.cfg.Retry
		// Connected: anything may have happened while we were away.
		c.refreshSoon()
		for range s.Events() {
			// Any event — a boot step, a pause, one we do not know —
			// means the menu may be out of date.
			c.refreshSoon()
		}
		err = s.Err()
		s.Close()
		if ctx.Err() != nil {
			return
		}
		c.log.Info("event stream ended", "err", err)
		c.refreshSoon()
		// Do not spin if a daemon accepts streams and drops them at once.
		if !sleep(ctx, c.cfg.Retry) {
			return
		}
	}
}

// sleep waits for d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
