package menu

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pixie-boot/pixie/daemon/api"
)

// API is the part of the control API that clicks call. *api.Client
// implements it.
type API interface {
	Pause(ctx context.Context) (api.Status, error)
	Resume(ctx context.Context) (api.Status, error)
	Machine(ctx context.Context, mac string) (api.Machine, error)
	PutMachine(ctx context.Context, m api.Machine) (api.Machine, error)
	DeleteMachine(ctx context.Context, mac string) error
	Timeline(ctx context.Context, mac string, limit int) ([]api.Event, error)
}

// Desktop is what clicks ask of the user's desktop session: the clipboard,
// the file manager, a text viewer, and an administrator prompt. Package
// desktop implements it with the OS's commands; tests record the calls.
type Desktop interface {
	CopyText(ctx context.Context, text string) error
	// Open shows a folder or file in the desktop's default application.
	Open(ctx context.Context, path string) error
	// ShowText shows text (named for its file or window) to the user.
	ShowText(ctx context.Context, name, text string) error
	ShowLogs(ctx context.Context) error
	// InstallService runs `pixie install service` as root, asking the
	// user for an administrator password the way the OS does.
	InstallService(ctx context.Context) error
}

// TimelineLimit is how many of a machine's events Show timeline shows.
const TimelineLimit = 500

// Handler carries out clicked actions.
type Handler struct {
	API     API
	Desktop Desktop
	Quit    func() // ends the tray app
	// SetLoginItem turns starting the menu at login on or off; nil where
	// there is no login item.
	SetLoginItem func(on bool) error
	// Dashboard returns a one-time link into the web dashboard, at mac's
	// timeline when mac is set (starting the dashboard on first use); nil
	// where there is none, and Show timeline shows text instead.
	Dashboard func(ctx context.Context, mac string) (string, error)
}

// Do carries out one action. Its error says, in words for the menu, what
// could not be done and why.
func (h Handler) Do(ctx context.Context, a Action) error {
	var err error
	switch a.Kind {
	case NoAction:
		return nil
	case Pause:
		_, err = h.API.Pause(ctx)
	case Resume:
		_, err = h.API.Resume(ctx)
	case CopyMAC:
		err = h.Desktop.CopyText(ctx, a.MAC)
	case AssignProfile:
		err = h.assign(ctx, a.MAC, a.Profile)
	case OpenDashboard:
		err = h.openDashboard(ctx, "")
	case ShowTimeline:
		if h.Dashboard != nil {
			err = h.openDashboard(ctx, a.MAC)
			break
		}
		var es []api.Event
		if es, err = h.API.Timeline(ctx, a.MAC, TimelineLimit); err == nil {
			err = h.Desktop.ShowText(ctx, "timeline-"+strings.ReplaceAll(a.MAC, ":", ""), FormatTimeline(a.MAC, es))
		}
	case ForgetMachine:
		err = h.API.DeleteMachine(ctx, a.MAC)
	case OpenDataFolder:
		err = h.Desktop.Open(ctx, a.Path)
	case ShowLogs:
		err = h.Desktop.ShowLogs(ctx)
	case InstallService:
		err = h.Desktop.InstallService(ctx)
	case LoginItemOn, LoginItemOff:
		if h.SetLoginItem == nil {
			err = errors.New("not available here (run the menu as yourself, not as root)")
		} else {
			err = h.SetLoginItem(a.Kind == LoginItemOn)
		}
	case Quit:
		if h.Quit != nil {
			h.Quit()
		}
		return nil
	default:
		return fmt.Errorf("unknown menu action %v", a)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", failed(a), err)
	}
	return nil
}

// openDashboard opens the dashboard (at mac's timeline) in the browser.
func (h Handler) openDashboard(ctx context.Context, mac string) error {
	if h.Dashboard == nil {
		return errors.New("the dashboard is not available in this menu")
	}
	link, err := h.Dashboard(ctx, mac)
	if err != nil {
		return err
	}
	return h.Desktop.Open(ctx, link)
}

// assign changes only the machine's profile: the PUT replaces the whole
// record, so the hostname and variables are read first and sent back.
func (h Handler) assign(ctx context.Context, mac, profile string) error {
	m, err := h.API.Machine(ctx, mac)
	if api.IsCode(err, api.CodeNotFound) {
		m, err = api.Machine{MAC: mac}, nil
	}
	if err != nil {
		return err
	}
	m.Profile = profile
	_, err = h.API.PutMachine(ctx, m)
	return err
}

// failed says which action failed, for the notice in the menu.
func failed(a Action) string {
	switch a.Kind {
	case Pause:
		return "Could not pause network boot"
	case Resume:
		return "Could not resume network boot"
	case CopyMAC:
		return "Could not copy " + a.MAC
	case AssignProfile:
		return fmt.Sprintf("Could not assign %s to %s", a.Profile, a.MAC)
	case ShowTimeline:
		return "Could not show the timeline of " + a.MAC
	case ForgetMachine:
		return "Could not forget " + a.MAC
	case OpenDataFolder:
		return "Could not open " + a.Path
	case ShowLogs:
		return "Could not show the logs"
	case InstallService:
		return "Could not install the service"
	case LoginItemOn:
		return "Could not make pixie's menu start at login"
	case LoginItemOff:
		return "Could not stop pixie's menu starting at login"
	case OpenDashboard:
		return "Could not open the dashboard"
	}
	return "Could not " + a.String()
}

// FormatTimeline renders a machine's events (oldest first) as the text
// Show timeline opens, one event a line in local time.
func FormatTimeline(mac string, es []api.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "pixie: boot timeline of %s (%d events, oldest first)\n\n", mac, len(es))
	if len(es) == 0 {
		b.WriteString("No boot events recorded.\n")
		return b.String()
	}
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tSTAGE\tIP\tARCH\tDETAIL")
	for _, e := range es {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Time.Local().Format(time.DateTime), StageWords(e.Stage),
			dash(e.IP), dash(e.Arch), strings.ReplaceAll(e.Detail, "\n", " "))
	}
	tw.Flush() // writes to a strings.Builder, which cannot fail
	return b.String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
