// Package menu is the tray's menu as a pure model: a State (what the daemon
// said, or why it could not be asked) goes in, a tree of Items comes out,
// and a clicked item's Action goes back in to become calls on the control
// API or the desktop.
//
// Nothing here touches the network, the OS or a GUI toolkit, so the whole
// menu — every title, check mark and enabled flag, and what each click does
// — is tested with tables. The controller (package tray) keeps a State up
// to date; a binding (package menubar) draws the Items.
package menu

import (
	"strconv"
	"time"

	"github.com/pixie-boot/pixie/daemon/api"
)

// MaxRecent is how many recently booted machines the menu lists.
const MaxRecent = 10

// NoticeFor is how long the failure of a clicked action stays in the menu.
const NoticeFor = time.Minute

// State is everything the menu is drawn from.
type State struct {
	// Status is the daemon's state; meaningful only when Err is nil.
	Status api.Status
	// Err is why the daemon could not be asked (not running, no
	// permission, failing). The menu then shows no machines: what it
	// knew may be stale.
	Err error
	// Boots are the recently booted machines, newest first (as the daemon
	// sends them); only the first MaxRecent are shown.
	Boots []api.BootSummary
	// Profiles are the profiles a machine can be assigned, by name.
	Profiles []api.Profile
	// ServiceInstalled says whether pixie runs as a system service; when
	// it does not, the menu offers to install it.
	ServiceInstalled bool
	// LoginItem is the "Start at login" toggle: hidden unless Known (no
	// login item on this OS, or run as root).
	LoginItem LoginItemState
	// Dashboard shows "Open dashboard": the menu can start the web
	// dashboard (see Handler.Dashboard).
	Dashboard bool
	// DataDir is where the data folder is when the daemon cannot say
	// (Status.DataDir wins when known).
	DataDir string
	// Now is the time relative ages are computed against.
	Now time.Time
	// Notice is the last failed action, shown until NoticeAt+NoticeFor.
	Notice   string
	NoticeAt time.Time
}

// LoginItemState is whether the menu starts at the user's login.
type LoginItemState struct {
	Known bool
	On    bool
}

// Menu is what the tray shows: its items, which icon, and the icon's
// tooltip.
type Menu struct {
	Items []Item
	// On selects the "on" icon: the daemon is up and offering network
	// boot. Paused, not serving or unreachable all show "off".
	On      bool
	Tooltip string
}

// Item is one menu entry. A separator has only Separator set.
type Item struct {
	Title     string
	Tooltip   string
	Hidden    bool // kept in place but not shown, so the menu keeps its shape
	Enabled   bool
	Checkable bool // drawn with a check box (needed up front on Linux)
	Checked   bool
	Separator bool
	Action    Action // what a click does; the zero Action does nothing
	Children  []Item // a submenu
}

// Kind is what an action does.
type Kind int

// The actions a menu item can carry.
const (
	NoAction       Kind = iota
	Pause               // stop offering network boot
	Resume              // offer network boot again
	CopyMAC             // put Action.MAC on the clipboard
	AssignProfile       // make Action.MAC boot Action.Profile
	ShowTimeline        // show Action.MAC's boot events
	ForgetMachine       // delete pixie's record of Action.MAC
	OpenDataFolder      // open Action.Path in the file manager
	ShowLogs            // show the daemon's log
	InstallService      // install pixie as a system service (asks for a password)
	Quit                // end the tray app (the daemon keeps running)
	LoginItemOn         // start this menu at the user's login from now on
	LoginItemOff        // stop starting it at login
	OpenDashboard       // open the web dashboard (pixie ui) in the browser
)

func (k Kind) String() string {
	switch k {
	case NoAction:
		return "none"
	case Pause:
		return "pause"
	case Resume:
		return "resume"
	case CopyMAC:
		return "copy-mac"
	case AssignProfile:
		return "assign-profile"
	case ShowTimeline:
		return "show-timeline"
	case ForgetMachine:
		return "forget-machine"
	case OpenDataFolder:
		return "open-data-folder"
	case ShowLogs:
		return "show-logs"
	case InstallService:
		return "install-service"
	case Quit:
		return "quit"
	case LoginItemOn:
		return "login-item-on"
	case LoginItemOff:
		return "login-item-off"
	case OpenDashboard:
		return "open-dashboard"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Action is what clicking an item does: its identity as far as the
// binding is concerned. It is comparable, so tests and bindings can use it
// as a key.
type Action struct {
	Kind    Kind
	MAC     string // CopyMAC, AssignProfile, ShowTimeline, ForgetMachine
	Profile string // AssignProfile
	Path    string // OpenDataFolder
}

// String names the action for logs, e.g. "assign-profile 90:2b:34:14:f6:6a worker".
func (a Action) String() string {
	s := a.Kind.String()
	for _, p := range []string{a.MAC, a.Profile, a.Path} {
		if p != "" {
			s += " " + p
		}
	}
	return s
}
