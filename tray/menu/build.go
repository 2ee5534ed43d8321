package menu

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/pixie-boot/pixie/daemon/api"
)

// Titles of the fixed items, for bindings and tests that look for them.
const (
	TitleToggle         = "Offer network boot"
	TitleRecent         = "Recently booted"
	TitleNoBoots        = "No machines booted yet"
	TitleBootsUnknown   = "Not available right now"
	TitleCopyMAC        = "Copy MAC"
	TitleAssign         = "Assign profile"
	TitleTimeline       = "Show timeline"
	TitleForget         = "Forget machine"
	TitleOpenData       = "Open data folder"
	TitleShowLogs       = "Show logs"
	TitleInstallService = "Install service…"
	TitleQuit           = "Quit"
	TitleLoginItem      = "Start at login"
	TitleDashboard      = "Open dashboard"

	StatusNotRunning = "Service not running"
	StatusPaused     = "Paused"
)

// ErrConnecting is the state's Err before the daemon was first asked.
var ErrConnecting = errors.New("connecting to the pixie service")

// Build turns a state into the menu:
//
//	Serving on en5 · 10.2.0.200
//	✓ Offer network boot
//	─────
//	Recently booted
//	90:2b:34:14:f6:6a · first-time · Ignition ✓ · 2 min ago ▸
//	    Copy MAC / Assign profile ▸ / Show timeline / ─ / Forget machine
//	─────
//	⚠ <the last failed action, for a minute>
//	Open data folder
//	Show logs
//	Install service…   (only when the service is not installed)
//	─────
//	Quit
//
// The menu keeps one shape whatever the state: MaxRecent machine slots,
// the notice and Install service… are always there, hidden when unused.
// So a machine booting while the menu is open updates it in place; only a
// change in the number of profiles changes the shape (see SameShape).
func Build(st State) Menu {
	line, tip := StatusLine(st)
	up := st.Err == nil
	m := Menu{On: up && st.Status.Serving && !st.Status.Paused, Tooltip: "pixie: " + line}
	if ll := st.Status.LinkLayerShort(); m.On && ll != "" {
		// Worth seeing without opening the menu: another DHCP server
		// on this Mac holds port 67 (Internet Sharing, a VM app).
		m.Tooltip += " — " + ll
	}

	items := []Item{{Title: line, Tooltip: tip}, toggle(st), {Separator: true}, {Title: TitleRecent}}
	var boots []api.BootSummary
	if up {
		boots = st.Boots[:min(len(st.Boots), MaxRecent)]
	}
	for i := range MaxRecent {
		if i < len(boots) {
			items = append(items, bootItem(boots[i], st.Profiles, st.Now))
			continue
		}
		slot := bootItem(api.BootSummary{}, st.Profiles, st.Now)
		slot.Title, slot.Tooltip, slot.Hidden = "", "", true
		items = append(items, slot)
	}
	none := Item{Title: TitleNoBoots, Tooltip: "Machines appear here as soon as they ask pixie to boot", Hidden: len(boots) > 0}
	if !up {
		none.Title, none.Tooltip = TitleBootsUnknown, "pixie's list of machines is not available: "+line
	}
	items = append(items, none, Item{Separator: true})

	notice := Item{Hidden: true}
	if st.Notice != "" && st.Now.Sub(st.NoticeAt) < NoticeFor {
		notice = Item{Title: "⚠ " + firstLine(st.Notice), Tooltip: st.Notice}
	}
	dataDir := st.DataDir
	if up && st.Status.DataDir != "" {
		dataDir = st.Status.DataDir
	}
	items = append(items, notice,
		Item{Title: TitleDashboard, Tooltip: "Live boots, status and the pause switch in your browser (pixie ui)", Enabled: up, Action: Action{Kind: OpenDashboard}, Hidden: !st.Dashboard},
		Item{Title: TitleOpenData, Tooltip: dataDir, Enabled: dataDir != "", Action: Action{Kind: OpenDataFolder, Path: dataDir}},
		Item{Title: TitleShowLogs, Tooltip: "The pixie service's log", Enabled: true, Action: Action{Kind: ShowLogs}},
		loginItem(st.LoginItem),
		Item{
			Title:   TitleInstallService,
			Tooltip: "Install pixie as a system service that starts at boot (asks for an administrator password)",
			Enabled: true, Action: Action{Kind: InstallService}, Hidden: st.ServiceInstalled,
		},
		Item{Separator: true},
		Item{Title: TitleQuit, Tooltip: "Close this menu; the pixie service keeps running", Enabled: true, Action: Action{Kind: Quit}},
	)
	m.Items = items
	return m
}

// loginItem is the "Start at login" toggle, checked while the menu starts
// at login; like toggle, its action is the change a click makes.
func loginItem(li LoginItemState) Item {
	it := Item{Title: TitleLoginItem, Checkable: true, Enabled: true, Hidden: !li.Known, Checked: li.On}
	if li.On {
		it.Tooltip, it.Action = "pixie's menu starts when you log in: click to stop that (this menu keeps running)", Action{Kind: LoginItemOff}
	} else {
		it.Tooltip, it.Action = "Start pixie's menu when you log in", Action{Kind: LoginItemOn}
	}
	return it
}

// toggle is the pause/resume item: checked while pixie offers network boot.
// Its action is the change a click makes, decided when the menu is drawn,
// so a double click pauses twice (harmless) instead of undoing itself.
func toggle(st State) Item {
	it := Item{Title: TitleToggle, Checkable: true}
	switch {
	case st.Err != nil:
		it.Tooltip = "The pixie service is not reachable"
	case st.Status.Paused:
		it.Enabled = true
		it.Tooltip = "Resume answering PXE clients"
		it.Action = Action{Kind: Resume}
	default:
		it.Enabled, it.Checked = true, true
		it.Tooltip = "Pause: pixie stops answering PXE clients (the service keeps running)"
		it.Action = Action{Kind: Pause}
	}
	return it
}

// StatusLine is the menu's first line and its tooltip: "Serving on en5 ·
// 10.2.0.200", "Paused", "Service not running", ...
func StatusLine(st State) (line, tooltip string) {
	if st.Err != nil {
		var perm *api.PermissionError
		var urlErr *url.Error
		switch {
		case errors.Is(st.Err, ErrConnecting):
			return "Connecting…", "Connecting to the pixie service"
		case errors.As(st.Err, &perm):
			return "No permission to use pixie", st.Err.Error()
		case errors.Is(st.Err, context.DeadlineExceeded):
			return "Service not responding", st.Err.Error()
		case errors.Is(st.Err, api.ErrDaemonNotRunning), errors.As(st.Err, &urlErr):
			// Nothing listens, or the connection broke (the daemon
			// stopped mid-request): to the person at the menu these
			// are the same thing.
			return StatusNotRunning, st.Err.Error()
		}
		// The daemon answered, but with an error or nonsense.
		return "Service error", st.Err.Error()
	}
	s := st.Status
	where := join(" · ", s.Interface, s.Address)
	switch {
	case s.Paused:
		return StatusPaused, join(" ", "Network boot is paused", parens(where))
	case !s.Serving && s.Problem != "":
		return join(" ", "Not serving", parens(where)), s.Problem
	case !s.Serving:
		return "Not serving", "The pixie service runs but its boot servers are down: see Show logs"
	case s.DHCP.Warning != "":
		// Serving, but machines get no address (or two servers hand
		// them out): the person must see it without opening status.
		return join(" ", "Serving", parens(where), "— DHCP problem"), s.DHCP.Warning
	case where == "":
		return "Serving", join(" · ", s.BootURL, s.LinkLayerShort())
	}
	return "Serving on " + where, join(" · ", s.BootURL, s.LinkLayerShort(), versionTip(s.Version))
}

func versionTip(v string) string {
	if v == "" {
		return ""
	}
	return "pixie " + v
}

// bootItem is one "Recently booted" row and its submenu.
func bootItem(b api.BootSummary, profiles []api.Profile, now time.Time) Item {
	mac := b.MAC
	assign := Item{Title: TitleAssign, Enabled: true, Tooltip: "The profile this machine boots next time"}
	for _, p := range profiles {
		assign.Children = append(assign.Children, Item{
			Title: p.Name, Tooltip: p.Description, Enabled: true,
			Checkable: true, Checked: p.Name == b.Profile,
			Action: Action{Kind: AssignProfile, MAC: mac, Profile: p.Name},
		})
	}
	if len(assign.Children) == 0 {
		assign.Children = []Item{{Title: "No profiles"}}
	}
	forget := Item{Title: TitleForget, Enabled: b.Known, Action: Action{Kind: ForgetMachine, MAC: mac},
		Tooltip: "Delete pixie's record of this machine (profile, hostname); it boots the default profile again. Its boot history stays."}
	if !b.Known {
		forget.Action = Action{}
		forget.Tooltip = "pixie has no record of this machine yet: it boots the default profile"
	}
	return Item{
		Title:   BootLabel(b, now),
		Tooltip: bootTooltip(b),
		Enabled: true,
		Children: []Item{
			{Title: TitleCopyMAC, Tooltip: mac, Enabled: true, Action: Action{Kind: CopyMAC, MAC: mac}},
			assign,
			{Title: TitleTimeline, Tooltip: "Every recorded step of this machine's boots", Enabled: true, Action: Action{Kind: ShowTimeline, MAC: mac}},
			{Separator: true},
			forget,
		},
	}
}

// BootLabel is a recently booted machine's title: "90:2b:34:14:f6:6a ·
// 10.0.0.57 · first-time · Ignition ✓ · 2 min ago" (its address once
// known; hostname if known, else profile).
func BootLabel(b api.BootSummary, now time.Time) string {
	who := b.Hostname
	if who == "" {
		who = b.Profile
	}
	return join(" · ", b.MAC, b.Address, who, StageWords(b.Last.Stage), Age(now, b.Last.Time))
}

func bootTooltip(b api.BootSummary) string {
	ip := b.Last.IP
	if ip == b.Address || ip == "0.0.0.0" {
		ip = "" // in the title already, or not an address
	}
	tip := join(" · ", ip, b.Last.Arch, b.Last.Detail)
	if l := LoaderWords(b.Loader, b.LoaderStep); l != "" {
		tip = join(" · ", tip, l)
	}
	if !b.Known {
		tip = join(" · ", tip, "new machine")
	}
	return tip
}

// LoaderWords says which UEFI first stage a machine is on, when it is not
// the plain default: "loader stepped to ipxe", "loader grub (pinned)".
func LoaderWords(loader, step string) string {
	switch {
	case loader != "" && loader != "auto":
		return "loader " + loader + " (pinned)"
	case step != "":
		return "loader stepped to " + step
	}
	return ""
}

// StageWords says how far a boot got, in words.
func StageWords(stage string) string {
	switch stage {
	case "dhcp":
		return "DHCP offer"
	case "pxe":
		return "PXE request"
	case "tftp":
		return "iPXE loaded"
	case "script":
		return "boot script"
	case "kernel":
		return "kernel"
	case "initrd":
		return "initrd"
	case "rootfs":
		return "root filesystem"
	case "ignition":
		return "Ignition ✓"
	case "booted":
		return "booted ✓"
	case "error":
		return "error ✗"
	}
	return stage
}

// Age is how long ago t was, the way a menu says it: "just now", "2 min
// ago", "3 h ago", "2 days ago", or a date beyond a week.
func Age(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d/time.Minute))
	case d < 24*time.Hour:
		return fmt.Sprintf("%d h ago", int(d/time.Hour))
	case d < 48*time.Hour:
		return "yesterday"
	case d < 7*24*time.Hour:
		return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
	}
	return t.In(now.Location()).Format("Jan 2")
}

// join joins the non-empty parts with sep.
func join(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

func parens(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	const max = 80
	if r := []rune(line); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return line
}

// SameShape reports whether two item trees differ only in titles,
// tooltips, check marks, enabled flags and actions — what a binding can
// change in place. Any other difference (an item more or less, a separator
// moved, a submenu appearing) needs the menu rebuilt.
func SameShape(a, b []Item) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Separator != b[i].Separator || a[i].Checkable != b[i].Checkable ||
			(len(a[i].Children) > 0) != (len(b[i].Children) > 0) ||
			!SameShape(a[i].Children, b[i].Children) {
			return false
		}
	}
	return true
}
