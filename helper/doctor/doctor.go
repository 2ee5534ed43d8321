// Package doctor explains what stands between pixie and a machine that
// network-boots: the service, the ports, another DHCP or TFTP server on
// this host, the interface, the iPXE firmware, the images each profile
// needs, and the database.
//
// It is in two halves. Gather probes the system (the control socket,
// /proc, the interfaces, the data directory) into Facts; Evaluate turns
// Facts into Checks and is pure, so every verdict is tested from a table.
package doctor

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/netif"
	"github.com/pixie-boot/pixie/helper/service"
)

// Status is a check's verdict.
type Status string

// Verdicts: Fail means some machine cannot network-boot until it is fixed.
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Check is one verdict with its explanation and, unless OK, the fix.
type Check struct {
	Name    string `json:"name"`
	Status  Status `json:"status"`
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
}

// Report is every check, in the order a person would fix things.
type Report struct {
	Checks []Check `json:"checks"`
	// Blocking is true when any check failed.
	Blocking bool `json:"blocking"`
}

// Proc is a process holding a socket.
type Proc struct {
	PID  int    `json:"pid"`
	Name string `json:"name"` // the command name (/proc/PID/comm, lsof COMMAND)
}

// Holder is a socket bound to one of pixie's ports and the processes that
// hold it (none known: doctor could not see them, usually for lack of root).
type Holder struct {
	Proto string         `json:"proto"` // udp, tcp
	Local netip.AddrPort `json:"local"`
	Procs []Proc         `json:"procs,omitempty"`
}

// PortScan is what a scan of the system's sockets found.
type PortScan struct {
	// Supported is false where pixie cannot list sockets.
	Supported bool
	Err       error
	// Partial: some processes' file descriptors were unreadable (not
	// root), so a socket may show no holder.
	Partial bool
	Holders []Holder
}

// Facts are everything Evaluate judges.
type Facts struct {
	GOOS    string
	Service service.State
	// Daemon is the running daemon's status, nil when none answered on
	// DaemonSocket (DaemonErr says why).
	Daemon       *api.Status
	DaemonSocket string
	DaemonErr    error
	// Ports are those the daemon uses, or would use with the given flags.
	Ports api.Ports
	Scan  PortScan
	// Processes are the names of running processes (macOS: for bootpd and
	// dnsmasq), nil if not listed.
	Processes []string
	// Interface: the daemon's, or the one `pixie serve` would choose.
	WantInterface string
	Choice        netif.Choice
	ChoiceErr     error
	Candidates    []netif.Candidate
	// Firewall is macOS's Application Firewall, nil elsewhere.
	Firewall *AppFirewall
	// LogRotation is macOS's newsyslog rule for pixie's log, nil
	// elsewhere.
	LogRotation *LogRotation
	Firmware    []api.Firmware
	// Profiles and machines, and for each profile the asset files it names
	// that are missing from the data directory.
	Profiles       []api.Profile
	Machines       []api.Machine
	DefaultProfile string
	MissingAssets  map[string][]string
	ProfilesErr    error
	// DefaultLoader is the server's loader for machines on auto, from the
	// database when no daemon answered; ProfileImages the pulled image of
	// each profile and whether it has its own shim and GRUB.
	DefaultLoader string
	ProfileImages map[string]ProfileImage
	// Database: the file, and SQLite's integrity_check verdict.
	DBPath      string
	DBIntegrity string
	DBErr       error
}

// Evaluate judges the facts.
func Evaluate(f Facts) Report {
	var checks []Check
	checks = append(checks, checkService(f), checkDaemon(f), checkDHCPPath(f))
	checks = append(checks, checkPorts(f)...)
	checks = append(checks, checkRivals(f)...)
	checks = append(checks, checkFirewall(f.Firewall)...)
	checks = append(checks, checkLogRotation(f))
	checks = append(checks, checkInterface(f))
	var onGRUB []string
	for _, macs := range grubMachines(f) {
		onGRUB = append(onGRUB, macs...)
	}
	slices.Sort(onGRUB)
	checks = append(checks, checkFirmware(f.Firmware, f.GOOS, onGRUB)...)
	checks = append(checks, checkProfiles(f)...)
	checks = append(checks, checkGRUBProfiles(f)...)
	checks = append(checks, checkLoaderSets(f)...)
	checks = append(checks, checkDatabase(f))
	r := Report{}
	for _, c := range checks {
		if c.Name == "" {
			continue
		}
		r.Checks = append(r.Checks, c)
		if c.Status == Fail {
			r.Blocking = true
		}
	}
	return r
}

func checkService(f Facts) Check {
	c := Check{Name: "service"}
	st := f.Service
	switch {
	case !st.Installed:
		c.Status, c.Message = Warn, fmt.Sprintf("not installed as a %s service: pixie runs only while `pixie serve` does", st.Kind)
		c.Fix = "sudo pixie install service"
	case st.Status == "running":
		c.Status, c.Message = OK, fmt.Sprintf("installed (%s, %s) and running", st.Kind, st.Path)
	case st.Status == "failed":
		c.Status, c.Message = Fail, fmt.Sprintf("installed (%s) but failed", st.Kind)
		c.Fix = serviceLogs(f.GOOS) + ", then sudo pixie restart"
	case st.Status == "stopped":
		c.Status, c.Message = Warn, fmt.Sprintf("installed (%s) but stopped", st.Kind)
		c.Fix = "sudo pixie start"
	default:
		c.Status, c.Message = OK, fmt.Sprintf("installed (%s, %s); %s cannot say whether it runs", st.Kind, st.Path, st.Kind)
	}
	if st.CommandLine != "" {
		c.Message += "; runs " + st.CommandLine
	}
	return c
}

func serviceLogs(goos string) string {
	if goos == "darwin" {
		return "read " + service.LaunchdLogFile
	}
	return "read `journalctl -u pixie -e`"
}

func checkDaemon(f Facts) Check {
	c := Check{Name: "daemon"}
	if f.Daemon != nil {
		state := "serving"
		if f.Daemon.Paused {
			state = "paused"
		}
		c.Status, c.Message = OK, fmt.Sprintf("%s on %s %s (control socket %s)", state, f.Daemon.Interface, f.Daemon.Address, f.DaemonSocket)
		if f.Daemon.Paused {
			c.Status, c.Fix = Fail, "pixie resume"
			c.Message += ": machines are not offered network boot"
		}
		if w := f.Daemon.DHCP.Warning; w != "" && c.Status == OK {
			// No DHCP server on the link, or a rival beside full mode:
			// machines will not get their addresses.
			c.Status, c.Message = Warn, c.Message+"; "+w
			c.Fix = "pixie status shows the DHCP state; pixie serve --dhcp hands out addresses where nobody does"
		}
		return c
	}
	c.Status, c.Message = Fail, "no pixie daemon answers on "+f.DaemonSocket
	if f.DaemonErr != nil {
		c.Message = f.DaemonErr.Error() // the client's message names the socket
	}
	switch {
	case f.Service.Installed:
		c.Fix = "sudo pixie start (and " + serviceLogs(f.GOOS) + " if it does not stay up)"
	default:
		c.Fix = "sudo pixie serve, or sudo pixie install service"
	}
	return c
}

// checkDHCPPath says how the running daemon hears proxyDHCP (UDP sockets,
// or raw frames and why) and which DHCP packets it dropped unanswered.
// Drops by the kernel or at the link layer's checksums warn: they are lost
// requests a machine must retry. Packets from other interfaces are normal
// on a Mac with VMs or Wi-Fi beside the served LAN.
func checkDHCPPath(f Facts) Check {
	if f.Daemon == nil {
		return Check{}
	}
	c := Check{Name: "proxyDHCP path", Status: OK, Message: f.Daemon.DHCPPath()}
	var lost []string
	for _, d := range api.DHCPDrops(f.Daemon.Counters) {
		c.Message += fmt.Sprintf("; %d %s", d.Count, d.What)
		switch d.Counter {
		case "dhcp.dropped.kernel", "dhcp.send-failed":
			lost = append(lost, d.Counter)
		}
	}
	if len(lost) > 0 {
		c.Status = Warn
		c.Fix = "machines retry, so a few are harmless; if " + strings.Join(lost, " and ") + " keep growing (`pixie status`), serve on a less loaded host or boot fewer machines at once, and " + serviceLogs(f.GOOS)
	}
	return c
}

// port is one of pixie's listening ports.
type port struct {
	name, proto string
	num         int
	// what another holder breaks, and what to do about it.
	clash, fix string
}

func pixiePorts(p api.Ports, goos string) []port {
	stopHint := "stop it or move it off the port (e.g. `sudo systemctl disable --now dnsmasq`, or `port=0` / `dhcp-range` removed in its config)"
	if goos == "darwin" {
		stopHint = "stop it (Internet Sharing: System Settings › General › Sharing; dnsmasq: `sudo brew services stop dnsmasq`)"
	}
	dhcpClash := "another DHCP server on this host shares the port: SO_REUSEPORT lets both binds succeed, so binding proves nothing; the kernel gives each PXE request to one of them, and a client may never hear pixie"
	if goos == "darwin" {
		dhcpClash = "another DHCP server on this host holds the port: macOS lets two programs share it only if both asked for SO_REUSEPORT, so pixie's bind fails or it hears no PXE request"
	}
	tftpFix := "stop the other TFTP server (e.g. `sudo systemctl disable --now tftpd-hpa`)"
	if goos == "darwin" {
		// macOS's own tftpd is a launchd job, off unless someone loaded it.
		tftpFix = "stop the other TFTP server (macOS's own: `sudo launchctl bootout system/com.apple.tftpd`)"
	}
	return []port{
		{"proxyDHCP", "udp", p.DHCP, dhcpClash, stopHint},
		{"PXE boot server", "udp", p.PXE, "another PXE server shares the port: firmware that asks again on this port (EDK2, OVMF) may get its answer or none", stopHint},
		{"TFTP", "udp", p.TFTP, "another TFTP server holds the port: pixie cannot bind it, or clients fetch iPXE from the other server", tftpFix},
		{"HTTP", "tcp", p.HTTP, "another program holds the port: pixie cannot serve iPXE scripts, kernels and Ignition there", "stop it, or give pixie another port (`sudo pixie install service --force --http-port N`)"},
	}
}

// isPixie tells pixie's own processes by name (comm is cut at 15 bytes).
func isPixie(p Proc) bool { return p.Name == "pixie" || strings.HasPrefix(p.Name, "pixie ") }

func checkPorts(f Facts) []Check {
	var out []Check
	for _, p := range pixiePorts(f.Ports, f.GOOS) {
		c := Check{Name: fmt.Sprintf("%s port (%s %d)", p.name, p.proto, p.num)}
		if p.num == 0 {
			continue
		}
		if !f.Scan.Supported || f.Scan.Err != nil {
			c.Status, c.Message = Warn, "not checked: pixie cannot list this system's sockets"
			if f.Scan.Err != nil {
				c.Message = "not checked: " + f.Scan.Err.Error()
			}
			c.Fix = fmt.Sprintf("check by hand: sudo lsof -nP -i%s:%d", strings.ToUpper(p.proto), p.num)
			out = append(out, c)
			continue
		}
		var mine, others, unknown []string
		for _, h := range f.Scan.Holders {
			if h.Proto != p.proto || int(h.Local.Port()) != p.num {
				continue
			}
			if len(h.Procs) == 0 {
				unknown = append(unknown, h.Local.String())
			}
			for _, pr := range h.Procs {
				desc := fmt.Sprintf("%s (pid %d) on %s", pr.Name, pr.PID, h.Local)
				if isPixie(pr) {
					mine = append(mine, desc)
				} else {
					others = append(others, desc)
				}
			}
		}
		slices.Sort(others)
		others = slices.Compact(others)
		clash, fix := p.clash, p.fix
		// appleHolder: Apple's bootpd (through launchd) is the only
		// other holder; pixie's link-layer path answers beside it, so
		// it is a warning, not a failure.
		appleHolder := false
		if f.GOOS == "darwin" && p.proto == "udp" && (p.num == f.Ports.DHCP || p.num == f.Ports.PXE) {
			appleHolder = len(others) > 0
			for _, h := range f.Scan.Holders {
				for _, pr := range h.Procs {
					if h.Proto != p.proto || int(h.Local.Port()) != p.num || isPixie(pr) {
						continue
					}
					if w, fx, ok := darwinHolder(pr.Name); ok {
						clash, fix = w, fx
					} else {
						appleHolder = false
					}
				}
			}
		}
		link := f.Daemon != nil && f.Daemon.LinkLayerOn(p.num)
		switch {
		case len(others) > 0 && link:
			// The daemon answers beside the holder with raw frames.
			c.Status = OK
			c.Message = "held by " + strings.Join(others, ", ") + "; pixie answers beside it over the link layer, without the port (" + f.Daemon.LinkLayerShort() + ")"
		case link:
			c.Status, c.Message = OK, "pixie answers over the link layer, without a socket on the port ("+f.Daemon.LinkLayerShort()+")"
		case len(others) > 0:
			c.Status = Fail
			if appleHolder {
				c.Status = Warn
			}
			c.Message = "held by " + strings.Join(others, ", ") + ": " + clash
			if len(mine) > 0 {
				c.Message += " (pixie holds it too: " + strings.Join(mine, ", ") + ")"
			}
			c.Fix = fix
		case len(unknown) > 0:
			c.Status = Warn
			c.Message = "bound on " + strings.Join(unknown, ", ") + " by a process doctor cannot see"
			c.Fix = "run `sudo pixie doctor` to see every process's sockets"
			if f.Daemon != nil {
				c.Message += " (probably the pixie daemon)"
			}
		case len(mine) > 0:
			c.Status, c.Message = OK, "pixie: "+strings.Join(mine, ", ")
			if f.Daemon == nil {
				c.Status = Warn
				c.Message = "held by a pixie that does not answer on " + f.DaemonSocket + ": " + strings.Join(mine, ", ")
				c.Fix = "stop that pixie, or point the CLI at its socket with --socket"
			}
		case f.Daemon != nil:
			c.Status, c.Message = Warn, "nobody holds it, though the daemon runs"
			c.Fix = "sudo pixie restart, and " + serviceLogs(f.GOOS)
		default:
			c.Status, c.Message = OK, "free"
		}
		if f.Scan.Partial && c.Status == OK {
			c.Message += " (some processes were not visible: run as root for a full check)"
		}
		out = append(out, c)
	}
	return out
}

// checkRivals looks for DHCP servers that need no port to be found: on
// macOS, bootpd (Internet Sharing) and dnsmasq, which pixie cannot see by
// socket without lsof.
func checkRivals(f Facts) []Check {
	if f.Processes == nil {
		return nil
	}
	var out []Check
	for _, r := range []struct{ name, what, fix string }{
		{"bootpd", "macOS Internet Sharing's DHCP server (bootpd) is running: it answers DHCP on the shared interface, and a PXE client there may take its boot offer instead of pixie's", "turn Internet Sharing off (System Settings › General › Sharing), or serve pixie on an interface that is not shared"},
		{"dnsmasq", "dnsmasq is running: if it serves DHCP or PXE on pixie's interface, it competes with pixie", "stop it (`sudo brew services stop dnsmasq`) or make sure it has no dhcp-range/pxe-service on pixie's interface"},
	} {
		c := Check{Name: "other DHCP server: " + r.name}
		if slices.Contains(f.Processes, r.name) {
			c.Status, c.Message, c.Fix = Warn, r.what, r.fix
		} else {
			c.Status, c.Message = OK, r.name+" is not running"
		}
		out = append(out, c)
	}
	return out
}

func checkInterface(f Facts) Check {
	c := Check{Name: "interface"}
	if f.ChoiceErr != nil {
		c.Status, c.Message = Fail, f.ChoiceErr.Error()
		c.Fix = "connect the interface machines boot on, or name it: sudo pixie install service --force --interface NAME"
		return c
	}
	name := f.Choice.Interface
	var cand *netif.Candidate
	for i := range f.Candidates {
		if f.Candidates[i].Name == name {
			cand = &f.Candidates[i]
		}
	}
	switch {
	case cand == nil:
		c.Status, c.Message = Fail, fmt.Sprintf("interface %s does not exist (any more)", name)
		c.Fix = "plug it in, or serve on another: sudo pixie install service --force --interface NAME"
	case !cand.Up:
		c.Status, c.Message = Fail, fmt.Sprintf("interface %s is down", name)
		c.Fix = fmt.Sprintf("bring it up (`%s`, or connect the cable)", netif.UpCommand(f.GOOS, name))
	case len(cand.Addrs) == 0:
		c.Status, c.Message = Fail, fmt.Sprintf("interface %s has no IPv4 address", name)
		c.Fix = "connect it to the LAN machines boot on (its DHCP server gives it an address), or give it one"
	case !slices.ContainsFunc(cand.Addrs, func(p netip.Prefix) bool { return p.Addr() == f.Choice.Addr }):
		c.Status = Fail
		c.Message = fmt.Sprintf("pixie announces %s, but %s now has %s", f.Choice.Addr, name, prefixes(cand.Addrs))
		c.Fix = "sudo pixie restart (the interface's address changed)"
	default:
		c.Status, c.Message = OK, fmt.Sprintf("%s is up with %s; pixie announces %s", name, prefixes(cand.Addrs), f.Choice.Addr)
	}
	return c
}

func prefixes(ps []netip.Prefix) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.String())
	}
	return strings.Join(s, ", ")
}

// checkFirmware says per architecture what pixie hands out: iPXE, and on
// UEFI the shim+GRUB pair (uefiLoaderCheck). BIOS and x86-64 UEFI are what
// almost every PC needs; nothing at all blocks every PXE boot (iPXE ROMs,
// which skip TFTP, aside). onGRUB are the machines that boot through GRUB.
func checkFirmware(fw []api.Firmware, goos string, onGRUB []string) []Check {
	fix := firmwareFix(goos)
	found := false
	for _, a := range fw {
		found = found || len(a.Files) > 0
	}
	if !found {
		return []Check{{Name: "firmware", Status: Fail, Message: "no iPXE firmware found for any architecture: PXE clients get nothing over TFTP", Fix: fix}}
	}
	sets := map[string]grubSet{}
	for _, s := range grubSets(fw) {
		sets[s.arch] = s
	}
	var out []Check
	for _, a := range fw {
		if set, ok := sets[a.Arch]; ok {
			out = append(out, uefiLoaderCheck(a, set, onGRUB, fix))
			continue
		}
		c := Check{Name: "firmware " + a.Arch}
		if len(a.Files) > 0 {
			var files []string
			for _, f := range a.Files {
				files = append(files, f.Name+" ("+f.Source+")")
			}
			c.Status, c.Message = OK, strings.Join(files, ", ")
			if len(a.Missing) > 0 {
				c.Message += "; not found: " + strings.Join(a.Missing, ", ")
			}
		} else {
			c.Status = Warn
			c.Message = fmt.Sprintf("nothing to serve (looked for %s): %s machines cannot PXE-boot", strings.Join(a.Missing, ", "), a.Arch)
			c.Fix = fix
			if a.Arch != "bios" && a.Arch != "efi-x64" {
				c.Status, c.Fix = OK, ""
				c.Message = fmt.Sprintf("nothing to serve (looked for %s); needed only for %s machines", strings.Join(a.Missing, ", "), a.Arch)
			}
		}
		out = append(out, c)
	}
	return out
}

// checkProfiles says which profiles name kernels or initrds that are not
// in the data directory. A profile some machine boots (or the default, for
// every unknown machine) fails; an unused one only warns.
func checkProfiles(f Facts) []Check {
	if f.ProfilesErr != nil {
		return []Check{{Name: "images", Status: Warn, Message: "profiles not checked: " + f.ProfilesErr.Error(), Fix: "run `sudo pixie doctor`, or start the daemon"}}
	}
	used := map[string][]string{}
	for _, m := range f.Machines {
		p := m.Profile
		if p == "" {
			p = f.DefaultProfile
		}
		used[p] = append(used[p], m.MAC)
	}
	var out []Check
	for _, p := range f.Profiles {
		c := Check{Name: "images for profile " + p.Name}
		missing := f.MissingAssets[p.Name]
		if len(missing) == 0 {
			c.Status, c.Message = OK, "kernel and initrds present (or fetched by URL)"
			out = append(out, c)
			continue
		}
		who := ""
		switch {
		case p.Name == f.DefaultProfile:
			c.Status, who = Fail, "the default profile: every machine pixie does not know boots it"
		case len(used[p.Name]) > 0:
			c.Status, who = Fail, fmt.Sprintf("booted by %s", strings.Join(used[p.Name], ", "))
		default:
			c.Status, who = Warn, "no machine uses it yet"
		}
		c.Message = fmt.Sprintf("missing %s (%s)", strings.Join(missing, ", "), who)
		c.Fix = "put the files in the data directory's assets/ (or `pixie images`), or point the profile at others with `pixie profiles edit " + p.Name + "`"
		out = append(out, c)
	}
	return out
}

func checkDatabase(f Facts) Check {
	c := Check{Name: "database"}
	switch {
	case f.DBErr != nil:
		c.Status, c.Message = Warn, fmt.Sprintf("not checked (%s): %v", f.DBPath, f.DBErr)
		c.Fix = "run `sudo pixie doctor`"
	case f.DBIntegrity == "ok":
		c.Status, c.Message = OK, "integrity ok ("+f.DBPath+")"
	case f.DBIntegrity == "":
		c.Status, c.Message = OK, "none yet ("+f.DBPath+"): the daemon creates it on first start"
	default:
		c.Status = Fail
		c.Message = fmt.Sprintf("%s is damaged: %s", f.DBPath, f.DBIntegrity)
		c.Fix = "stop pixie, keep a copy, and recover it (`sqlite3 pixie.db .recover | sqlite3 fixed.db`) or move it away to start afresh"
	}
	return c
}

// firmwareFix is where iPXE comes from on goos.
func firmwareFix(goos string) string {
	if goos == "darwin" {
		return "install pixie from the Pixie app or pkg (they carry iPXE), build it with `make firmware embedded` (needs no dpkg), or put undionly.kpxe and ipxe.efi in the data directory's firmware/ or in /opt/homebrew/share/ipxe (Intel Macs: /usr/local/share/ipxe)"
	}
	return "install the OS's iPXE package (Debian/Ubuntu: apt install ipxe; Fedora: dnf install ipxe-bootimgs), use a pixie build with embedded firmware (make embedded; Fedora CoreOS and Flatcar have no iPXE package), or put the files in the data directory's firmware/"
}
