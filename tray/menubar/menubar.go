//go:build !darwin || cgo

// Package menubar draws the tray's menu with fyne.io/systray — an
// NSStatusItem on macOS, a StatusNotifierItem with a com.canonical.dbusmenu
// menu on Linux — and routes clicks back to the controller.
//
// It is deliberately thin: what the menu says and does is decided by
// package menu. systray cannot insert an item between two others, so the
// model keeps one shape (fixed slots for machines, hidden when unused) and
// the items are updated in place — titles, checks, tooltips, enabled and
// hidden flags — even while the menu is open. Only when the shape does
// change (a profile added) is the whole menu rebuilt with ResetMenu.
//
// On macOS the package needs cgo (systray is Objective-C there); a build
// without cgo gets a Run that says so.
package menubar

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"fyne.io/systray"

	"github.com/pixie-boot/pixie/tray/menu"
)

// Source is what the menu bar shows and where its clicks go;
// *tray.Controller implements it.
type Source interface {
	Menu() menu.Menu
	Changed() <-chan struct{}
	Click(ctx context.Context, a menu.Action)
}

// Icons are the PNG icons for the on and off looks: template icons for
// macOS and colored ones for everywhere else.
type Icons struct {
	OnTemplate, OffTemplate []byte
	On, Off                 []byte
}

// Run shows the menu until ctx ends or the menu's Quit is clicked, keeping
// it in step with src. It must be called from the main goroutine (macOS
// requires the UI on the main thread); it returns when the menu is gone.
func Run(ctx context.Context, src Source, icons Icons) error {
	if err := checkSession(runtime.GOOS, os.Getenv, fileExists); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	started, stopped := make(chan struct{}), make(chan struct{})
	onReady := func() {
		b := &bar{icons: icons, src: src, ctx: ctx}
		// Draw before returning: systray answers the first D-Bus
		// GetLayout only after onReady, so it never shows an empty menu.
		b.render(src.Menu(), false)
		close(started)
		go func() {
			defer close(stopped)
			// On Linux systray connects to the session bus only after
			// onReady has started, and an icon or tooltip set meanwhile
			// is lost: set them again once it has surely connected.
			settle := time.NewTimer(500 * time.Millisecond)
			defer settle.Stop()
			for {
				force := false
				select {
				case <-ctx.Done():
					systray.Quit()
					return
				case <-src.Changed():
				case <-settle.C:
					force = true
				}
				b.render(src.Menu(), force)
			}
		}()
	}
	systray.Run(onReady, cancel)
	cancel()
	select {
	case <-started:
		<-stopped
	default: // the menu never came up
	}
	return nil
}

// bar is the drawn menu: the systray items and the model items they show.
type bar struct {
	icons Icons
	src   Source
	ctx   context.Context

	iconOn  *bool // the icon shown; nil before the first
	tooltip string
	items   []menu.Item
	nodes   []*node // one per item, in the same order (nil for separators)
}

// node is one drawn item. Its action is read at click time, so a slot
// reused in place for another machine acts on the machine it now shows.
type node struct {
	mi       *systray.MenuItem
	mu       sync.Mutex
	action   menu.Action
	children []*node
}

func (n *node) current() menu.Action {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.action
}

// render draws m: the icon and tooltip if they changed (or force), and
// the items, in place when the shape allows.
func (b *bar) render(m menu.Menu, force bool) {
	if force || b.iconOn == nil || *b.iconOn != m.On {
		on := m.On
		b.iconOn = &on
		if on {
			systray.SetTemplateIcon(b.icons.OnTemplate, b.icons.On)
		} else {
			systray.SetTemplateIcon(b.icons.OffTemplate, b.icons.Off)
		}
	}
	if force || m.Tooltip != b.tooltip {
		b.tooltip = m.Tooltip
		systray.SetTooltip(m.Tooltip)
	}
	if b.nodes != nil && menu.SameShape(b.items, m.Items) {
		update(b.nodes, b.items, m.Items)
	} else {
		if b.nodes != nil {
			// Removing an item closes its ClickedCh, which ends the
			// goroutine that listened to it.
			systray.ResetMenu()
		}
		b.nodes = b.add(nil, m.Items)
	}
	b.items = m.Items
}

// add creates items under parent (nil: the top level).
func (b *bar) add(parent *systray.MenuItem, items []menu.Item) []*node {
	nodes := make([]*node, len(items))
	for i, it := range items {
		if it.Separator {
			if parent == nil {
				systray.AddSeparator()
			} else {
				parent.AddSeparator()
			}
			continue
		}
		var mi *systray.MenuItem
		switch {
		case parent == nil && it.Checkable:
			mi = systray.AddMenuItemCheckbox(it.Title, it.Tooltip, it.Checked)
		case parent == nil:
			mi = systray.AddMenuItem(it.Title, it.Tooltip)
		case it.Checkable:
			mi = parent.AddSubMenuItemCheckbox(it.Title, it.Tooltip, it.Checked)
		default:
			mi = parent.AddSubMenuItem(it.Title, it.Tooltip)
		}
		if !it.Enabled {
			mi.Disable()
		}
		if it.Hidden {
			mi.Hide()
		}
		n := &node{mi: mi, action: it.Action}
		n.children = b.add(mi, it.Children)
		nodes[i] = n
		go b.listen(n)
	}
	return nodes
}

// listen forwards n's clicks until its item is removed. systray drops a
// click nobody is receiving, so every item has a listener all the time.
func (b *bar) listen(n *node) {
	for range n.mi.ClickedCh {
		if a := n.current(); a != (menu.Action{}) {
			b.src.Click(b.ctx, a)
		}
	}
}

// update changes drawn items in place, touching only what differs: each
// change is a D-Bus signal on Linux.
func update(nodes []*node, old, cur []menu.Item) {
	for i, n := range nodes {
		if n == nil {
			continue // separator
		}
		o, c := old[i], cur[i]
		if o.Title != c.Title {
			n.mi.SetTitle(c.Title)
		}
		if o.Tooltip != c.Tooltip {
			n.mi.SetTooltip(c.Tooltip)
		}
		if o.Checked != c.Checked {
			if c.Checked {
				n.mi.Check()
			} else {
				n.mi.Uncheck()
			}
		}
		if o.Enabled != c.Enabled {
			if c.Enabled {
				n.mi.Enable()
			} else {
				n.mi.Disable()
			}
		}
		if o.Hidden != c.Hidden {
			if c.Hidden {
				n.mi.Hide()
			} else {
				n.mi.Show()
			}
		}
		n.mu.Lock()
		n.action = c.Action
		n.mu.Unlock()
		update(n.children, o.Children, c.Children)
	}
}

// checkSession refuses to start on Linux without a D-Bus session bus:
// systray would then show nothing, and crash when asked to quit.
func checkSession(goos string, getenv func(string) string, exists func(string) bool) error {
	if goos != "linux" || getenv("DBUS_SESSION_BUS_ADDRESS") != "" {
		return nil
	}
	if dir := getenv("XDG_RUNTIME_DIR"); dir != "" && exists(filepath.Join(dir, "bus")) {
		return nil
	}
	return errors.New("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set): the tray runs in a desktop session, whose panel shows it through StatusNotifierItem")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
