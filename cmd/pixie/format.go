package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/pixie-boot/pixie/daemon/api"
)

// Output formatting lives in pure functions (data and "now" in, text out)
// so tests can pin the exact layout.

// printJSON writes v as indented JSON, the --json output of every command.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// formatAge says how long ago t was, the way a person would: "just now",
// "45 s ago", "3 min ago", "5 h ago", "12 days ago".
func formatAge(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 5*time.Second: // includes small clock skew into the future
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

// formatDuration prints an uptime coarsely: "40 s", "12 min", "3 h 5 min",
// "2 days 4 h".
func formatDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	}
	days := int(d.Hours() / 24)
	unit := "days"
	if days == 1 {
		unit = "day"
	}
	return fmt.Sprintf("%d %s %d h", days, unit, int(d.Hours())%24)
}

// truncate shortens s to n runes, marking the cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// table lays out rows in aligned columns.
func table(header []string, rows [][]string) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
	// tabwriter pads the last column too; drop the trailing spaces.
	lines := strings.Split(b.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

// fields prints "label: value" lines with the values aligned; a value with
// several lines continues under the first.
func fields(pairs ...[2]string) string {
	width := 0
	for _, p := range pairs {
		width = max(width, len(p[0])+3) // "label:" and two spaces
	}
	var b strings.Builder
	for _, p := range pairs {
		for i, line := range strings.Split(p[1], "\n") {
			label := ""
			if i == 0 {
				label = p[0] + ":"
			}
			b.WriteString(strings.TrimRight(fmt.Sprintf("%-*s%s", width, label, line), " "))
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// formatStatus is `pixie status`'s human output.
func formatStatus(st api.Status, now time.Time) string {
	state := "serving: machines are offered network boot"
	switch {
	case st.Paused:
		state = "paused: machines are not offered network boot (`pixie resume` to resume)"
	case !st.Serving && st.Problem != "":
		state = "not serving: " + st.Problem
	case !st.Serving:
		state = "not serving: the boot servers are not running (see the daemon's log)"
	}
	iface := orDash(st.Interface)
	if st.Address != "" {
		iface += " " + st.Address
	}
	p := st.Ports
	ports := fmt.Sprintf("DHCP %d, PXE %d, TFTP %d, HTTP %d", p.DHCP, p.PXE, p.TFTP, p.HTTP)
	version := orDash(st.Version)
	if !st.StartedAt.IsZero() {
		version += fmt.Sprintf(", up %s (since %s)", formatDuration(now.Sub(st.StartedAt)), st.StartedAt.Local().Format("2006-01-02 15:04"))
	}
	rows := [][2]string{
		{"state", state},
		{"interface", iface},
		{"boot URL", orDash(st.BootURL)},
		{"ports", ports},
		{"proxyDHCP", formatDHCPPath(st)},
		{"loader", formatDefaultLoader(st)},
	}
	if st.DHCP.Mode != "" { // a daemon from before DHCP modes says nothing
		rows = append(rows, [2]string{"DHCP", formatDHCP(st.DHCP, st.Interface)})
	}
	rows = append(rows,
		[2]string{"firmware", formatFirmware(st.Firmware)},
		[2]string{"data dir", orDash(st.DataDir)})
	if st.Store.Backend != "" { // a daemon from before stores says nothing
		rows = append(rows, [2]string{"store", formatStore(st.Store)})
	}
	return fields(append(rows,
		[2]string{"socket", orDash(st.Socket)},
		[2]string{"version", version},
		[2]string{"counters", formatCounters(st.Counters)},
	)...)
}

// formatStore names the database and this instance's name on its events.
func formatStore(s api.StoreStatus) string {
	out := s.Backend + " " + s.Location
	if s.Instance != "" {
		out += " (instance " + s.Instance + ")"
	}
	return out
}

// formatDHCPPath says how proxyDHCP hears and answers, and which DHCP
// packets were dropped unanswered and why, one line each.
func formatDHCPPath(st api.Status) string {
	lines := []string{st.DHCPPath()}
	for _, d := range api.DHCPDrops(st.Counters) {
		lines = append(lines, fmt.Sprintf("%d %s (%s)", d.Count, d.What, d.Counter))
	}
	return strings.Join(lines, "\n")
}

// formatDefaultLoader says what a UEFI machine without a pin of its own is
// offered first.
func formatDefaultLoader(st api.Status) string {
	var s string
	switch st.DefaultLoader {
	case "", "auto":
		s = "auto: snponly.efi first, ipxe.efi when the firmware does not run it, then shim/GRUB (Secure Boot) when a shim set is found"
	default:
		s = st.DefaultLoader + " for every machine without a loader of its own (pixie serve --loader)"
	}
	if st.EFIFile != "" {
		s += "\nx86-64 UEFI: " + st.EFIFile + " (pixie serve --efi-file replaces the ladder)"
	}
	return s
}

// shortLoader is a machine's loader in a table cell: "auto", "auto>ipxe"
// after a ladder step, or the pin.
func shortLoader(loader, step string) string {
	switch {
	case loader == "" || loader == "auto":
		if step != "" {
			return "auto>" + step
		}
		return "auto"
	}
	return loader + " (pinned)"
}

// formatMachineLoader is the loader field of `pixie machines show`.
func formatMachineLoader(m api.Machine, now time.Time) string {
	switch {
	case m.Loader != "" && m.Loader != "auto":
		return m.Loader + " (pinned: `pixie machines set " + m.MAC + " --loader auto` lets pixie choose)"
	case m.LoaderStep == "":
		return "auto (the server's default; snponly.efi first)"
	}
	s := "auto, stepped to " + m.LoaderStep + " " + formatTime(now, m.LoaderStepAt)
	if m.LoaderReason != "" {
		s += "\nwhy: " + m.LoaderReason
	}
	return s + "\n`pixie machines set " + m.MAC + " --loader auto` starts again at snponly"
}

// formatFirmware prints one line per architecture: the files served, where
// each comes from, and what is missing.
func formatFirmware(fw []api.Firmware) string {
	if len(fw) == 0 {
		return "none found: PXE clients cannot get iPXE (install the ipxe package, or see the daemon's log)"
	}
	width := 0
	for _, f := range fw {
		width = max(width, len(f.Arch))
	}
	var lines []string
	for _, f := range fw {
		var parts []string
		for _, file := range f.Files {
			parts = append(parts, fmt.Sprintf("%s (%s)", file.Name, file.Source))
		}
		line := strings.Join(parts, ", ")
		if len(f.Missing) > 0 {
			if line != "" {
				line += "; "
			}
			line += "missing " + strings.Join(f.Missing, ", ")
		}
		lines = append(lines, fmt.Sprintf("%-*s  %s", width, f.Arch, orDash(line)))
	}
	return strings.Join(lines, "\n")
}

// formatCounters prints counters sorted by name, several per line.
func formatCounters(c map[string]uint64) string {
	if len(c) == 0 {
		return "-"
	}
	var lines []string
	var line []string
	for _, k := range slices.Sorted(maps.Keys(c)) {
		line = append(line, fmt.Sprintf("%s=%d", k, c[k]))
		if len(line) == 3 {
			lines = append(lines, strings.Join(line, "  "))
			line = nil
		}
	}
	if len(line) > 0 {
		lines = append(lines, strings.Join(line, "  "))
	}
	return strings.Join(lines, "\n")
}

// machineLabel is the MACHINE column of the boots table: hostname/profile.
func machineLabel(b api.BootSummary) string {
	host := b.Hostname
	switch {
	case !b.Known:
		host = "(new)"
	case host == "":
		host = "-"
	}
	label := host + "/" + orDash(b.Profile)
	// Only a loader that is not the plain default is worth the width.
	if l := shortLoader(b.Loader, b.LoaderStep); l != "auto" {
		label += " " + l
	}
	return label
}

// formatBoots is the `pixie boots` table.
func formatBoots(bs []api.BootSummary, now time.Time) string {
	if len(bs) == 0 {
		return "no machine has tried to network-boot yet: power one on with PXE boot enabled and watch with `pixie boots --follow`\n"
	}
	rows := make([][]string, len(bs))
	for i, b := range bs {
		rows[i] = []string{
			b.MAC, machineLabel(b), b.Last.Stage, orDash(truncate(b.Last.Detail, 40)),
			orDash(cmp.Or(b.Address, b.Last.IP)), formatAge(now, b.Last.Time),
		}
	}
	return table([]string{"MAC", "MACHINE", "LAST STAGE", "DETAIL", "IP", "SEEN"}, rows)
}

// formatEventLine is one line of `pixie boots --follow`.
func formatEventLine(e api.Event) string {
	return strings.TrimRight(fmt.Sprintf("%s  %-17s  %-8s  %-15s  %-9s  %s",
		e.Time.Local().Format("15:04:05"), orDash(e.MAC), e.Stage, orDash(e.IP), orDash(e.Arch), e.Detail), " ")
}

// formatTimeline is the `pixie timeline` table.
func formatTimeline(mac string, es []api.Event) string {
	if len(es) == 0 {
		return fmt.Sprintf("no boot events recorded for %s: is it set to PXE boot on this network? (`pixie boots` lists the MACs pixie saw)\n", mac)
	}
	// Which instance served each step matters only when several share the
	// store: one instance's timeline looks as it always did.
	instances := map[string]bool{}
	for _, e := range es {
		instances[e.Instance] = true
	}
	rows := make([][]string, len(es))
	for i, e := range es {
		rows[i] = []string{e.Time.Local().Format("2006-01-02 15:04:05"), e.Stage, orDash(e.IP), orDash(e.Arch), e.Detail}
		if len(instances) > 1 {
			rows[i] = append(rows[i][:2], append([]string{orDash(e.Instance)}, rows[i][2:]...)...)
		}
	}
	if len(instances) > 1 {
		return table([]string{"TIME", "STAGE", "INSTANCE", "IP", "ARCH", "DETAIL"}, rows)
	}
	return table([]string{"TIME", "STAGE", "IP", "ARCH", "DETAIL"}, rows)
}

// formatMachines is the `pixie machines list` table.
func formatMachines(ms []api.Machine, now time.Time) string {
	if len(ms) == 0 {
		return "no machines yet: `pixie boots` lists the MACs that tried to boot; add one with `pixie machines set MAC --profile NAME`\n"
	}
	rows := make([][]string, len(ms))
	for i, m := range ms {
		profile := m.Profile
		if profile == "" {
			profile = "(default)"
		}
		rows[i] = []string{m.MAC, orDash(m.Hostname), profile, shortLoader(m.Loader, m.LoaderStep),
			orDash(truncate(strings.Join(slices.Sorted(maps.Keys(m.Vars)), ","), 30)), formatAge(now, m.UpdatedAt)}
	}
	return table([]string{"MAC", "HOSTNAME", "PROFILE", "LOADER", "VARS", "UPDATED"}, rows)
}

func formatTime(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return fmt.Sprintf("%s (%s)", t.Local().Format("2006-01-02 15:04:05"), formatAge(now, t))
}

// formatMachine is `pixie machines show`.
func formatMachine(m api.Machine, now time.Time) string {
	profile := m.Profile
	if profile == "" {
		profile = "(the default profile)"
	}
	var vars []string
	for _, k := range slices.Sorted(maps.Keys(m.Vars)) {
		vars = append(vars, k+"="+m.Vars[k])
	}
	rows := [][2]string{
		{"mac", m.MAC},
		{"hostname", orDash(m.Hostname)},
		{"profile", profile},
		{"vars", orDash(strings.Join(vars, "\n"))},
		{"loader", formatMachineLoader(m, now)},
	}
	if m.IP != "" {
		rows = append(rows, [2]string{"address", formatReservation(m)})
	}
	return fields(append(rows,
		[2]string{"created", formatTime(now, m.CreatedAt)},
		[2]string{"updated", formatTime(now, m.UpdatedAt)},
	)...)
}

// formatProfiles is the `pixie profiles list` table; users counts the
// machines assigned to each profile.
func formatProfiles(ps []api.Profile, users map[string]int) string {
	if len(ps) == 0 {
		return "no profiles: add one with `pixie profiles add NAME --kernel PATH`\n"
	}
	rows := make([][]string, len(ps))
	for i, p := range ps {
		rows[i] = []string{p.Name, p.OS, truncate(p.Kernel, 40), fmt.Sprint(len(p.Initrds)), fmt.Sprint(users[p.Name]), orDash(truncate(p.Description, 50))}
	}
	return table([]string{"NAME", "OS", "KERNEL", "INITRDS", "MACHINES", "DESCRIPTION"}, rows)
}

// formatProfile is `pixie profiles show`; machines are the MACs using it.
func formatProfile(p api.Profile, machines []string, now time.Time) string {
	used := "none"
	if len(machines) > 0 {
		used = strings.Join(machines, "\n")
	}
	pairs := [][2]string{
		{"name", p.Name},
		{"description", orDash(p.Description)},
		{"os", p.OS},
		{"kernel", p.Kernel},
		{"initrds", orDash(strings.Join(p.Initrds, "\n"))},
		{"args", orDash(p.Args)},
	}
	pairs = append(pairs, profileExtraFields(p)...)
	s := fields(append(pairs,
		[2]string{"machines", used},
		[2]string{"created", formatTime(now, p.CreatedAt)},
		[2]string{"updated", formatTime(now, p.UpdatedAt)},
	)...)
	if strings.TrimSpace(p.Ignition) == "" {
		return s + fields([2]string{"ignition", "none"})
	}
	ign := p.Ignition
	if !strings.HasSuffix(ign, "\n") {
		ign += "\n"
	}
	return s + fmt.Sprintf("ignition (%d bytes):\n", len(p.Ignition)) + ign
}

// formatReservation is a machine's reserved address.
func formatReservation(m api.Machine) string {
	s := m.IP + " (reserved)"
	if m.Gateway != "" {
		s += ", gateway " + m.Gateway
	}
	if len(m.DNS) > 0 {
		s += ", DNS " + strings.Join(m.DNS, ", ")
	}
	return s
}

// formatDHCP says who hands out addresses on the link.
func formatDHCP(d api.DHCPStatus, iface string) string {
	var s string
	switch d.Mode {
	case "full":
		s = "full: pixie hands out addresses"
		if d.Pool != "" {
			s += fmt.Sprintf(" from %s (%d of %d leased, leases of %s); `pixie leases` lists them", d.Pool, d.PoolUsed, d.PoolSize, d.LeaseTime)
		}
	default:
		s = "proxy: the LAN's DHCP server hands out addresses"
		switch {
		case len(d.Servers) > 0:
			s += " (seen: " + strings.Join(d.Servers, ", ") + ")"
		case !d.Checked:
			s += " (checking whether one answers on " + orDash(iface) + ")"
		}
	}
	if d.Warning != "" {
		s += "\nWARNING: " + d.Warning
	}
	return s
}

// formatLeases is the `pixie leases` table.
func formatLeases(ls api.Leases, now time.Time) string {
	var head string
	switch {
	case ls.Mode == "full" && ls.Pool != "":
		head = "full DHCP: pool " + ls.Pool + "\n"
	case ls.Mode != "full":
		head = "proxy mode: the LAN's DHCP server hands out addresses; these are the leases pixie gave while in full DHCP mode (`pixie serve --dhcp`)\n"
	}
	if len(ls.Leases) == 0 {
		return head + "no leases yet\n"
	}
	rows := make([][]string, len(ls.Leases))
	for i, l := range ls.Leases {
		state := l.State
		if l.Reserved {
			state += " (reserved)"
		}
		expires := formatTime(now, l.Expires)
		if l.State == "released" {
			expires = "-"
		}
		rows[i] = []string{l.IP, orDash(l.MAC), state, expires, orDash(l.Hostname)}
	}
	return head + table([]string{"ADDRESS", "MAC", "STATE", "EXPIRES", "HOSTNAME"}, rows)
}
