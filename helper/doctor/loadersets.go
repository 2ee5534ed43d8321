package doctor

import (
	"context"
	"database/sql"
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pixie-boot/pixie/daemon/api"
	"github.com/pixie-boot/pixie/daemon/firmware"
	"github.com/pixie-boot/pixie/daemon/images"
)

// ProfileImage is the pulled image a profile's kernel comes from, and
// whether that image brings its own shim and GRUB.
type ProfileImage struct {
	Dir    string // in the asset store
	OS     string
	Stream string
	Arch   string
	// OwnSet: the image's loaders/ folder has the shim and GRUB for its
	// architecture.
	OwnSet bool
}

// profileImages finds, for each profile whose kernel is in a pulled
// image's folder, that image and whether it has its own loader set.
func profileImages(dataDir string, profiles []api.Profile) map[string]ProfileImage {
	assets := filepath.Join(dataDir, "assets")
	out := map[string]ProfileImage{}
	for _, p := range profiles {
		if p.Kernel == "" || strings.Contains(p.Kernel, "://") {
			continue
		}
		dir := path.Dir(strings.TrimPrefix(path.Clean("/"+p.Kernel), "/"))
		img, err := images.ReadManifest(assets, dir)
		if err != nil {
			continue // not a pulled image: its own files, vendor unknown
		}
		arch := firmware.ArchEFIx64
		if img.Arch == "aarch64" || img.Arch == "arm64" {
			arch = firmware.ArchEFIARM64
		}
		out[p.Name] = ProfileImage{Dir: dir, OS: img.OS, Stream: img.Stream, Arch: img.Arch,
			OwnSet: firmware.ImageHasLoaders(assets, dir, arch)}
	}
	return out
}

// readLoaders adds each machine's loader and rung and the server's
// default loader. A database from before loaders existed has neither
// column: every machine is on auto then.
func readLoaders(ctx context.Context, db *sql.DB, f *Facts) {
	var def string
	if err := db.QueryRowContext(ctx, "SELECT value FROM settings WHERE key = 'default_loader'").Scan(&def); err == nil {
		f.DefaultLoader = def
	}
	rows, err := db.QueryContext(ctx, "SELECT mac, loader, loader_step FROM machines")
	if err != nil {
		return
	}
	defer rows.Close()
	byMAC := map[string][2]string{}
	for rows.Next() {
		var mac, loader, step string
		if rows.Scan(&mac, &loader, &step) == nil {
			byMAC[mac] = [2]string{loader, step}
		}
	}
	for i := range f.Machines {
		if l, ok := byMAC[f.Machines[i].MAC]; ok {
			f.Machines[i].Loader, f.Machines[i].LoaderStep = l[0], l[1]
		}
	}
}

// onGRUB reports whether a machine boots through shim and GRUB: pinned to
// it, stepped to it by the ladder, or on auto with grub the server's
// default.
func onGRUB(m api.Machine, defaultLoader string) bool {
	switch m.Loader {
	case "grub":
		return true
	case "", "auto":
		return m.LoaderStep == "grub" || defaultLoader == "grub"
	}
	return false
}

// checkLoaderSets says, for each profile that machines on the GRUB loader
// boot, which shim and GRUB they get. A shim boots only kernels its own
// vendor signed, so a Fedora CoreOS image without Fedora's set (pulled
// with --no-loaders, or before pixie pulled them) cannot boot under
// Secure Boot through the server-wide set (Debian's).
func checkLoaderSets(f Facts) []Check {
	def := f.DefaultLoader
	if f.Daemon != nil && f.Daemon.DefaultLoader != "" {
		def = f.Daemon.DefaultLoader
	}
	users := map[string][]string{}
	for _, m := range f.Machines {
		if !onGRUB(m, def) {
			continue
		}
		p := m.Profile
		if p == "" {
			p = f.DefaultProfile
		}
		users[p] = append(users[p], m.MAC)
	}
	if def == "grub" && f.DefaultProfile != "" {
		users[f.DefaultProfile] = append(users[f.DefaultProfile], "every machine pixie does not know yet")
	}
	names := make([]string, 0, len(users))
	for p := range users {
		names = append(names, p)
	}
	sort.Strings(names)
	var out []Check
	for _, p := range names {
		c := Check{Name: "loader set for profile " + p}
		who := strings.Join(users[p], ", ")
		img, pulled := f.ProfileImages[p]
		switch {
		case pulled && img.OwnSet:
			c.Status = OK
			c.Message = fmt.Sprintf("machines on GRUB (%s) get %s's own shim and GRUB", who, img.Dir)
		case pulled && img.OS == "fedora-coreos":
			c.Status = Warn
			c.Message = fmt.Sprintf("machines on GRUB (%s) boot Fedora CoreOS %s, which has no Fedora shim and GRUB of its own: they get the server-wide set, whose shim (Debian's) refuses Fedora's kernel when Secure Boot is on", who, img.Dir)
			c.Fix = "`sudo " + images.PullCommand("fedora-coreos", img.Stream, img.Arch) + "` fetches Fedora's signed shim and GRUB into the image's loaders/ folder"
		default:
			c.Status = OK
			c.Message = fmt.Sprintf("machines on GRUB (%s) get the server-wide shim and GRUB: with Secure Boot on, the profile's kernel must be signed by that shim's vendor (see the firmware lines)", who)
		}
		out = append(out, c)
	}
	return out
}

// LoaderSetChecks is checkLoaderSets for `pixie status`, from what the
// running daemon reports and the data directory's asset store.
func LoaderSetChecks(st api.Status, profiles []api.Profile, machines []api.Machine, defaultProfile string) []Check {
	return checkLoaderSets(Facts{Daemon: &st, Profiles: profiles, Machines: machines, DefaultProfile: defaultProfile,
		ProfileImages: profileImages(st.DataDir, profiles)})
}
