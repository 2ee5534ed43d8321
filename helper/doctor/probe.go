package doctor

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/mattn/go-sqlite3" // database/sql driver "sqlite3"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/firmware"
	"github.com/pixie-boot/pixie/daemon/netif"
	"github.com/pixie-boot/pixie/daemon/store"
	"github.com/pixie-boot/pixie/helper/service"
)

// Options say where to look: what `pixie serve` would be given. A daemon
// answering on Socket overrides them with what it actually uses.
type Options struct {
	GOOS      string
	Socket    string
	Interface string
	Address   string
	DataDir   string
	Ports     api.Ports
	// EmbeddedFirmware and OSFirmwareDirs are what the daemon would serve
	// from besides the data directory.
	EmbeddedFirmware fs.FS
	OSFirmwareDirs   []string
	// ProcRoot is the proc filesystem ("/proc"), for tests.
	ProcRoot string
	// Service reports the installed service; nil: the OS's.
	Service func() service.State
	// Root prefixes the system files doctor reads (/etc/newsyslog.d),
	// for tests; "" is the running system.
	Root string
}

// Run gathers the facts and evaluates them.
func Run(ctx context.Context, o Options) (Report, Facts) {
	f := Gather(ctx, o)
	return Evaluate(f), f
}

// Gather probes the system. It changes nothing: the database is opened read
// only, the daemon is only asked for its status.
func Gather(ctx context.Context, o Options) Facts {
	if o.ProcRoot == "" {
		o.ProcRoot = "/proc"
	}
	f := Facts{GOOS: o.GOOS, DaemonSocket: o.Socket, Ports: o.Ports, WantInterface: o.Interface}
	if o.Service != nil {
		f.Service = o.Service()
	} else {
		f.Service = (&service.Manager{GOOS: o.GOOS}).State()
	}

	dataDir := o.DataDir
	client := api.NewClient(o.Socket)
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	st, err := client.Status(cctx)
	cancel()
	if err == nil {
		f.Daemon = &st
		f.Ports = st.Ports
		f.Firmware = st.Firmware
		if st.DataDir != "" {
			dataDir = st.DataDir
		}
	} else {
		f.DaemonErr = err
	}

	f.Candidates, f.ChoiceErr = netif.System()
	if f.ChoiceErr == nil {
		if f.Daemon != nil {
			addr, perr := netip.ParseAddr(f.Daemon.Address)
			f.Choice = netif.Choice{Interface: f.Daemon.Interface, Addr: addr}
			if perr != nil {
				f.ChoiceErr = fmt.Errorf("the daemon reports address %q: %v", f.Daemon.Address, perr)
			}
		} else {
			f.Choice, f.ChoiceErr = netif.Choose(f.Candidates, netif.DefaultRouteInterface(), o.Interface, o.Address)
		}
	}

	udp := []int{f.Ports.DHCP, f.Ports.PXE, f.Ports.TFTP}
	tcp := []int{f.Ports.HTTP}
	switch o.GOOS {
	case "linux":
		f.Scan = scanProc(o.ProcRoot, udp, tcp)
	case "darwin":
		f.Scan = scanLsof(ctx, udp, tcp)
		f.Processes = processNames(ctx)
		app := ""
		if exe, _, ok := strings.Cut(f.Service.CommandLine, " "); ok || exe != "" {
			app = exe
		}
		if app == "" {
			app, _ = os.Executable()
		}
		f.Firewall = gatherFirewall(ctx, app)
		f.LogRotation = gatherLogRotation(o.Root)
	}

	if f.Firmware == nil {
		f.Firmware = firmware.New(dataDir, o.EmbeddedFirmware, o.OSFirmwareDirs).StatusReport()
	}

	f.DBPath = filepath.Join(dataDir, "pixie.db")
	readDatabase(ctx, &f, dataDir)
	if f.Daemon != nil {
		// Ask the daemon: it answers without root when the database is
		// unreadable, and its profiles and machines carry every field
		// (OS kind, loader), where the database read above has only the
		// first schema's columns.
		profiles, err := client.Profiles(ctx)
		var machines []api.Machine
		if err == nil {
			machines, err = client.Machines(ctx)
		}
		switch {
		case err == nil:
			if f.ProfilesErr != nil {
				f.DefaultProfile = store.DefaultProfileName
			}
			f.Profiles, f.Machines, f.ProfilesErr = profiles, machines, nil
			f.MissingAssets = missingAssets(dataDir, f.Profiles)
			f.ProfileImages = profileImages(dataDir, f.Profiles)
		case f.ProfilesErr != nil:
			f.ProfilesErr = err
		}
	}
	return f
}

// readDatabase checks the database's integrity and reads the profiles and
// machines from it, read-only. The columns read are those of pixie's first
// schema, which migrations never change.
func readDatabase(ctx context.Context, f *Facts, dataDir string) {
	if _, err := os.Stat(f.DBPath); errors.Is(err, fs.ErrNotExist) {
		return // no database yet: nothing to check
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Set("_busy_timeout", "5000")
	db, err := sql.Open("sqlite3", "file:"+f.DBPath+"?"+q.Encode())
	if err != nil {
		f.DBErr, f.ProfilesErr = err, err
		return
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		f.DBErr, f.ProfilesErr = err, err
		return
	}
	var verdict []string
	for rows.Next() && len(verdict) < 5 {
		var s string
		if err := rows.Scan(&s); err == nil {
			verdict = append(verdict, s)
		}
	}
	rows.Close()
	f.DBIntegrity = strings.Join(verdict, "; ")
	f.ProfilesErr = readProfiles(ctx, db, f)
	if f.ProfilesErr == nil {
		f.MissingAssets = missingAssets(dataDir, f.Profiles)
		readLoaders(ctx, db, f)
		f.ProfileImages = profileImages(dataDir, f.Profiles)
	}
}

func readProfiles(ctx context.Context, db *sql.DB, f *Facts) error {
	f.DefaultProfile = store.DefaultProfileName
	var def string
	if err := db.QueryRowContext(ctx, "SELECT value FROM settings WHERE key = ?", store.SettingDefaultProfile).Scan(&def); err == nil && def != "" {
		f.DefaultProfile = def
	}
	rows, err := db.QueryContext(ctx, "SELECT name, kernel, initrds FROM profiles ORDER BY name")
	if err != nil {
		return err
	}
	for rows.Next() {
		var p api.Profile
		var initrds string
		if err := rows.Scan(&p.Name, &p.Kernel, &initrds); err != nil {
			rows.Close()
			return err
		}
		_ = json.Unmarshal([]byte(initrds), &p.Initrds)
		f.Profiles = append(f.Profiles, p)
	}
	rows.Close()
	rows, err = db.QueryContext(ctx, "SELECT mac, COALESCE(profile, '') FROM machines ORDER BY mac")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var m api.Machine
		if err := rows.Scan(&m.MAC, &m.Profile); err != nil {
			return err
		}
		f.Machines = append(f.Machines, m)
	}
	return rows.Err()
}

// missingAssets lists, per profile, the kernel and initrds that are not in
// the data directory's assets/ (http(s) URLs are fetched by the machine
// itself and not checked). Paths resolve inside assets/ only.
func missingAssets(dataDir string, profiles []api.Profile) map[string][]string {
	out := map[string][]string{}
	root, rerr := os.OpenRoot(filepath.Join(dataDir, "assets"))
	if rerr == nil {
		defer root.Close()
	}
	for _, p := range profiles {
		for _, ref := range append([]string{p.Kernel}, p.Initrds...) {
			if ref == "" || strings.HasPrefix(ref, "http://") || strings.HasPrefix(ref, "https://") {
				continue
			}
			if rerr == nil {
				if fi, err := root.Stat(ref); err == nil && fi.Mode().IsRegular() {
					continue
				}
			}
			out[p.Name] = append(out[p.Name], ref)
		}
	}
	return out
}

// scanLsof lists the holders of pixie's ports with lsof (macOS has no
// /proc). Without root lsof sees only the caller's own processes.
func scanLsof(ctx context.Context, udp, tcp []int) PortScan {
	lsof, err := exec.LookPath("lsof")
	if err != nil {
		return PortScan{}
	}
	args := []string{"-nP", "-F", "pcPn"}
	for _, p := range udp {
		args = append(args, "-iUDP:"+strconv.Itoa(p))
	}
	for _, p := range tcp {
		args = append(args, "-iTCP:"+strconv.Itoa(p))
	}
	args = append(args, "-sTCP:LISTEN")
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, lsof, args...).Output()
	// lsof exits 1 when it finds nothing.
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		return PortScan{Supported: true, Err: fmt.Errorf("lsof: %w", err)}
	}
	return PortScan{Supported: true, Partial: os.Geteuid() != 0, Holders: parseLsof(bytes.NewReader(out))}
}

// processNames lists running processes' command names (macOS: `ps`).
func processNames(ctx context.Context) []string {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, "ps", "-axco", "comm=").Output()
	if err != nil {
		return nil
	}
	names := []string{}
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			names = append(names, l)
		}
	}
	return names
}
