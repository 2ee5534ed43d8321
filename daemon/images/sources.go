package images

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"

	"github.com/coreos/stream-metadata-go/stream"
)

// Default metadata hosts. A mirror replaces them (air-gapped sites, tests).
const (
	FCOSBase    = "https://builds.coreos.fedoraproject.org"
	flatcarHost = "release.flatcar-linux.net"
)

// Request says what to pull.
type Request struct {
	OS string // fedora-coreos, flatcar, generic
	// Fedora CoreOS: stable, testing, next. Flatcar: stable, beta, alpha.
	Stream string
	// Arch: x86_64 or aarch64 (Flatcar's amd64/arm64 are accepted too).
	Arch string
	// Version: Flatcar "current" or a release number; Fedora CoreOS always
	// takes the stream's current release.
	Version string
	// Mirror replaces the distribution's host: for Fedora CoreOS the base
	// of https://builds.coreos.fedoraproject.org (stream JSON and every
	// artifact URL in it); for Flatcar the base holding CHANNEL/ARCH-usr/.
	Mirror string
	// Generic images: Name and the kernel and initrd URLs with their sha256.
	Name    string
	Kernel  string
	Initrds []string
	SHA256  map[string]string // URL → hex sha256
}

// Plan is what a pull resolves to before downloading: where the files go
// and which artifacts they are.
type Plan struct {
	Image     Image
	Artifacts []Artifact
}

var safeSeg = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

func checkSeg(what, s string) error {
	if !safeSeg.MatchString(s) {
		return fmt.Errorf("%s %q: use letters, digits, '.', '_' and '-'", what, s)
	}
	return nil
}

// Resolve reads the release metadata and returns the plan. A download
// failure is a *FetchError whose hint says how to use a mirror.
func (p *Puller) Resolve(ctx context.Context, r Request) (Plan, error) {
	switch r.OS {
	case "fedora-coreos":
		return p.resolveFCOS(ctx, r)
	case "flatcar":
		return p.resolveFlatcar(ctx, r)
	case "generic":
		return resolveGeneric(r)
	}
	return Plan{}, fmt.Errorf("unknown OS %q: pull fedora-coreos, flatcar, or a generic image with --url", r.OS)
}

func fcosArch(a string) (string, error) {
	switch a {
	case "", "x86_64", "amd64":
		return "x86_64", nil
	case "aarch64", "arm64":
		return "aarch64", nil
	}
	return "", fmt.Errorf("architecture %q: use x86_64 or aarch64", a)
}

// mirrored rewrites a URL on the default host to the mirror.
func mirrored(u, def, mirror string) string {
	if mirror == "" || !strings.HasPrefix(u, def) {
		return u
	}
	return strings.TrimSuffix(mirror, "/") + strings.TrimPrefix(u, def)
}

func (p *Puller) resolveFCOS(ctx context.Context, r Request) (Plan, error) {
	st := r.Stream
	if st == "" {
		st = "stable"
	}
	switch st {
	case "stable", "testing", "next":
	default:
		return Plan{}, fmt.Errorf("Fedora CoreOS stream %q: use stable, testing or next", st)
	}
	arch, err := fcosArch(r.Arch)
	if err != nil {
		return Plan{}, err
	}
	if r.Version != "" && r.Version != "current" {
		return Plan{}, fmt.Errorf("Fedora CoreOS pulls the stream's current release; --version is for Flatcar")
	}
	metaURL := mirrored(FCOSBase+"/streams/"+st+".json", FCOSBase, r.Mirror)
	raw, err := p.get(ctx, metaURL, 16<<20)
	if err != nil {
		return Plan{}, fmt.Errorf("read the Fedora CoreOS stream metadata: %w", withHint(err, mirrorHint(r)))
	}
	var s stream.Stream
	if err := json.Unmarshal(raw, &s); err != nil {
		return Plan{}, fmt.Errorf("Fedora CoreOS stream metadata at %s is not valid: %w", metaURL, err)
	}
	a, err := s.GetArchitecture(arch)
	if err != nil {
		return Plan{}, err
	}
	metal, ok := a.Artifacts["metal"]
	if !ok {
		return Plan{}, fmt.Errorf("the %s stream has no metal artifacts for %s", st, arch)
	}
	pxe, ok := metal.Formats["pxe"]
	if !ok || pxe.Kernel == nil || pxe.Initramfs == nil || pxe.Rootfs == nil {
		return Plan{}, fmt.Errorf("the %s stream has no complete PXE artifacts (kernel, initramfs, rootfs) for %s", st, arch)
	}
	if err := checkSeg("release", metal.Release); err != nil {
		return Plan{}, err
	}
	img := Image{OS: "fedora-coreos", Stream: st, Arch: arch, Version: metal.Release,
		Dir: path.Join("fedora-coreos", st, arch, metal.Release)}
	var arts []Artifact
	for _, x := range []struct {
		role string
		a    *stream.Artifact
	}{{"kernel", pxe.Kernel}, {"initramfs", pxe.Initramfs}, {"rootfs", pxe.Rootfs}} {
		name := path.Base(x.a.Location)
		if err := checkSeg("artifact", name); err != nil {
			return Plan{}, err
		}
		art := Artifact{Name: name, Role: x.role, URL: mirrored(x.a.Location, FCOSBase, r.Mirror), SHA256: x.a.Sha256, Keys: "fedora-coreos", hint: mirrorHint(r)}
		if x.a.Signature != "" {
			art.SigURL = mirrored(x.a.Signature, FCOSBase, r.Mirror)
		}
		arts = append(arts, art)
		img.setRole(x.role, path.Join(img.Dir, name))
	}
	return Plan{Image: img, Artifacts: arts}, nil
}

func flatcarArch(a string) (string, error) {
	switch a {
	case "", "x86_64", "amd64":
		return "amd64", nil
	case "aarch64", "arm64":
		return "arm64", nil
	}
	return "", fmt.Errorf("architecture %q: use x86_64 or aarch64", a)
}

func (p *Puller) resolveFlatcar(ctx context.Context, r Request) (Plan, error) {
	ch := r.Stream
	if ch == "" {
		ch = "stable"
	}
	switch ch {
	case "stable", "beta", "alpha", "lts":
	default:
		return Plan{}, fmt.Errorf("Flatcar channel %q: use stable, beta, alpha or lts", ch)
	}
	arch, err := flatcarArch(r.Arch)
	if err != nil {
		return Plan{}, err
	}
	base := "https://" + ch + "." + flatcarHost
	if r.Mirror != "" {
		base = strings.TrimSuffix(r.Mirror, "/") + "/" + ch
	}
	ver := r.Version
	if ver == "" {
		ver = "current"
	}
	if err := checkSeg("version", ver); err != nil {
		return Plan{}, err
	}
	// The release listing: version.txt names the release a directory holds
	// (https://www.flatcar.org/docs/latest/installing/community-platforms/notes-for-distributors/).
	raw, err := p.get(ctx, base+"/"+arch+"-usr/"+ver+"/version.txt", 64<<10)
	if err != nil {
		return Plan{}, fmt.Errorf("read Flatcar's release listing: %w", withHint(err, mirrorHint(r)))
	}
	vars := parseEnvFile(raw)
	release := vars["FLATCAR_VERSION"]
	if release == "" {
		release = vars["COREOS_VERSION"]
	}
	if release == "" {
		release = vars["FLATCAR_VERSION_ID"]
	}
	if err := checkSeg("Flatcar version in version.txt", release); err != nil {
		return Plan{}, err
	}
	if ver != "current" && release != ver {
		return Plan{}, fmt.Errorf("Flatcar's %s-usr/%s/version.txt says %s", arch, ver, release)
	}
	dirURL := base + "/" + arch + "-usr/" + release + "/"
	img := Image{OS: "flatcar", Stream: ch, Arch: arch, Version: release,
		Dir: path.Join("flatcar", ch, arch, release)}
	var arts []Artifact
	for _, f := range []struct{ role, name string }{{"kernel", "flatcar_production_pxe.vmlinuz"}, {"initramfs", "flatcar_production_pxe_image.cpio.gz"}} {
		digests, err := p.get(ctx, dirURL+f.name+".DIGESTS", 64<<10)
		if err != nil {
			return Plan{}, fmt.Errorf("read the published checksums of %s: %w", f.name, withHint(err, mirrorHint(r)))
		}
		sums := parseDigests(digests, f.name)
		if sums["sha256"] == "" && sums["sha512"] == "" {
			return Plan{}, fmt.Errorf("%s.DIGESTS has no SHA256 or SHA512 sum for %s", f.name, f.name)
		}
		arts = append(arts, Artifact{Name: f.name, Role: f.role, URL: dirURL + f.name,
			SHA256: sums["sha256"], SHA512: sums["sha512"], SigURL: dirURL + f.name + ".sig", Keys: "flatcar", hint: mirrorHint(r)})
		img.setRole(f.role, path.Join(img.Dir, f.name))
	}
	return Plan{Image: img, Artifacts: arts}, nil
}

// parseEnvFile reads KEY=VALUE lines (version.txt).
func parseEnvFile(b []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if ok {
			out[k] = strings.Trim(v, `"'`)
		}
	}
	return out
}

var hexRE = regexp.MustCompile(`^[0-9a-fA-F]+$`)

// parseDigests reads a Flatcar DIGESTS file ("# SHA512 HASH" sections of
// "HEX  NAME" lines) or a plain sha256sum-style file.
func parseDigests(b []byte, name string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 || !hexRE.MatchString(fields[0]) || strings.TrimPrefix(fields[1], "*") != name {
			continue
		}
		switch len(fields[0]) {
		case 64:
			out["sha256"] = strings.ToLower(fields[0])
		case 128:
			out["sha512"] = strings.ToLower(fields[0])
		}
	}
	return out
}

func resolveGeneric(r Request) (Plan, error) {
	if err := checkSeg("image name (--name)", r.Name); err != nil {
		return Plan{}, err
	}
	if r.Kernel == "" {
		return Plan{}, fmt.Errorf("a generic image needs a kernel URL")
	}
	img := Image{OS: "generic", Version: r.Name, Dir: path.Join("generic", r.Name)}
	var arts []Artifact
	add := func(role, u string) error {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return fmt.Errorf("%q is not an http(s) URL", u)
		}
		name := path.Base(pu.Path)
		if err := checkSeg("file name in "+u, name); err != nil {
			return err
		}
		sum := r.SHA256[u]
		if len(sum) != 64 || !hexRE.MatchString(sum) {
			return fmt.Errorf("%s: give its sha256 as %s#sha256=HEX (64 hex digits; sha256sum prints it): pixie does not store unverified files", u, u)
		}
		for _, a := range arts {
			if a.Name == name {
				return fmt.Errorf("two files named %s", name)
			}
		}
		arts = append(arts, Artifact{Name: name, Role: role, URL: u, SHA256: sum, hint: mirrorHint(r)})
		img.setRole(role, path.Join(img.Dir, name))
		return nil
	}
	if err := add("kernel", r.Kernel); err != nil {
		return Plan{}, err
	}
	for _, in := range r.Initrds {
		if err := add("initramfs", in); err != nil {
			return Plan{}, err
		}
	}
	return Plan{Image: img, Artifacts: arts}, nil
}
