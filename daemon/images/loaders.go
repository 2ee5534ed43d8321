package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/pixie-boot/pixie/daemon/rpm"
)

// A shim boots only kernels signed by its own vendor, so a Fedora CoreOS
// image needs Fedora's shim and GRUB to boot under Secure Boot: Debian's
// (the server-wide set) refuse Fedora's kernel. PullLoaders puts them in
// the image's directory, under LoaderDir, where the boot servers look.
const (
	// LoaderDir is the folder of an image's own loader set.
	LoaderDir = "loaders"
	// LoaderManifestName is the set's record of what it holds and where
	// each file came from.
	LoaderManifestName = "pixie-loaders.json"
)

// LoaderSet is an image's own signed shim and GRUB.
type LoaderSet struct {
	Vendor   string       `json:"vendor"`  // fedora
	Release  string       `json:"release"` // the Fedora release, e.g. 43
	Arch     string       `json:"arch"`
	Files    []LoaderFile `json:"files"`
	PulledAt time.Time    `json:"pulled_at"`
}

// LoaderFile is one file of a LoaderSet, as taken out of its package.
type LoaderFile struct {
	Name      string `json:"name"` // served as: shimx64.efi, grubx64.efi
	Kind      string `json:"kind"` // shim or grub
	Package   string `json:"package"`
	RPM       string `json:"rpm_url"`
	RPMSHA256 string `json:"rpm_sha256,omitempty"`
	SHA256    string `json:"sha256"`
	Size      int64  `json:"size"`
	// Signer is the key whose signature over the package header verified;
	// empty when signatures were not checked (--no-signature).
	Signer string `json:"signer,omitempty"`
}

// LoaderResult says what PullLoaders did.
type LoaderResult struct {
	Set        LoaderSet
	Dir        string // the set's directory inside the asset store
	Downloaded bool   // false: the set was there and verified
}

// fedoraLoader is one file of Fedora's set: the package that ships it and
// where it installs it.
type fedoraLoader struct{ pkg, path, name, kind string }

func fedoraLoaders(arch string) ([]fedoraLoader, error) {
	switch arch {
	case "x86_64":
		return []fedoraLoader{
			{"shim-x64", "/boot/efi/EFI/fedora/shimx64.efi", "shimx64.efi", "shim"},
			{"grub2-efi-x64", "/boot/efi/EFI/fedora/grubx64.efi", "grubx64.efi", "grub"},
		}, nil
	case "aarch64":
		return []fedoraLoader{
			{"shim-aa64", "/boot/efi/EFI/fedora/shimaa64.efi", "shimaa64.efi", "shim"},
			{"grub2-efi-aa64", "/boot/efi/EFI/fedora/grubaa64.efi", "grubaa64.efi", "grub"},
		}, nil
	}
	return nil, fmt.Errorf("Fedora's signed shim and GRUB exist for x86_64 and aarch64, not %q", arch)
}

// FedoraRelease is the Fedora release a Fedora CoreOS version is built
// from: its first field (43.20251024.3.0 is Fedora 43).
func FedoraRelease(version string) (string, error) {
	major, _, _ := strings.Cut(version, ".")
	if n, err := strconv.Atoi(major); err != nil || n < 30 || n > 999 {
		return "", fmt.Errorf("Fedora CoreOS version %q does not start with a Fedora release number", version)
	}
	return major, nil
}

// FedoraRepos are the repositories a release's shim and GRUB come from,
// searched together (the newest build wins, as dnf picks): the release's
// updates and the release itself. Each ends in "/".
func FedoraRepos(base, release, arch string) []struct{ Label, URL string } {
	b := strings.TrimSuffix(base, "/")
	return []struct{ Label, URL string }{
		{"updates", b + "/updates/" + release + "/Everything/" + arch + "/"},
		{"releases", b + "/releases/" + release + "/Everything/" + arch + "/os/"},
	}
}

func fedoraMirrorHint(mirror string) string {
	if mirror == "" {
		return "To pull without reaching it, give --fedora-mirror URL: a local copy of " + FedoraRepoBase + " holding updates/RELEASE/Everything/ARCH/ or releases/RELEASE/Everything/ARCH/os/ (repodata/ and Packages/), or --no-loaders to pull the image without Fedora's shim and GRUB"
	}
	return "Check --fedora-mirror " + mirror + ": it must hold updates/RELEASE/Everything/ARCH/ or releases/RELEASE/Everything/ARCH/os/ as " + FedoraRepoBase + " does (repodata/repomd.xml, the primary metadata and Packages/)"
}

// PullLoaders fetches Fedora's signed shim and GRUB for a pulled Fedora
// CoreOS image (its release and architecture) from Fedora's repositories
// (mirror replaces FedoraRepoBase) into the image's LoaderDir. The chain
// of trust: repomd.xml names the primary metadata with its checksum; the
// primary metadata gives each package's checksum; the package's header
// carries Fedora's OpenPGP signature (checked with the same keys as the
// image's artifacts) and the digest of its payload, which holds the files.
// Running it again downloads nothing while the set verifies.
func (p *Puller) PullLoaders(ctx context.Context, assetsDir string, img Image, mirror string) (LoaderResult, error) {
	if img.OS != "fedora-coreos" {
		return LoaderResult{}, fmt.Errorf("only Fedora CoreOS images get a loader set of their own, not %s", img.OS)
	}
	release, err := FedoraRelease(img.Version)
	if err != nil {
		return LoaderResult{}, err
	}
	want, err := fedoraLoaders(img.Arch)
	if err != nil {
		return LoaderResult{}, err
	}
	res := LoaderResult{Dir: path.Join(img.Dir, LoaderDir)}
	dir := filepath.Join(assetsDir, filepath.FromSlash(res.Dir))
	if set, err := ReadLoaderSet(assetsDir, img.Dir); err == nil && set.Release == release && set.Arch == img.Arch && len(set.Files) == len(want) {
		res.Set = set
		p.logf("Fedora %s shim and GRUB (%s): already present, sha256 verified", release, img.Arch)
		return res, nil
	}
	base := FedoraRepoBase
	if mirror != "" {
		base = mirror
	}
	hint := fedoraMirrorHint(mirror)
	work := filepath.Join(dir, ".download")
	var names []string
	for _, w := range want {
		names = append(names, w.pkg)
	}
	found := map[string]repoPackage{}
	var looked []string
	for _, repo := range FedoraRepos(base, release, img.Arch) {
		pkgs, err := p.findPackages(ctx, repo.URL, work, repo.Label, img.Arch, names, hint)
		if errors.Is(err, errNoRepo) {
			p.logf("Fedora %s has no %s repository at %s: skipped", release, repo.Label, repo.URL)
			continue
		}
		if err != nil {
			return res, err
		}
		looked = append(looked, repo.URL)
		for n, pkg := range pkgs {
			if old, ok := found[n]; !ok || compareEVR(pkg.evr(), old.evr()) > 0 {
				found[n] = pkg
			}
		}
	}
	if len(looked) == 0 {
		return res, fmt.Errorf("no Fedora %s repository for %s was found under %s. %s", release, img.Arch, base, hint)
	}
	keyring, keySource, err := p.keyring(Artifact{Keys: "fedora-coreos"})
	if err != nil {
		return res, err
	}
	set := LoaderSet{Vendor: "fedora", Release: release, Arch: img.Arch}
	for _, w := range want {
		if _, ok := found[w.pkg]; !ok {
			return res, fmt.Errorf("no %s package for %s in %s: Fedora %s's shim and GRUB cannot be pulled from there. %s", w.pkg, img.Arch, strings.Join(looked, " or "), release, hint)
		}
	}
	for _, w := range want {
		lf, err := p.fetchLoader(ctx, work, dir, found[w.pkg], w, keyring, keySource, hint)
		if err != nil {
			return res, err
		}
		set.Files = append(set.Files, lf)
	}
	set.PulledAt = time.Now().UTC()
	b, _ := json.MarshalIndent(set, "", "  ")
	if err := writeAtomic(filepath.Join(dir, LoaderManifestName), append(b, '\n')); err != nil {
		return res, err
	}
	os.RemoveAll(work) // the packages and metadata served their purpose
	syncDir(dir)
	res.Set, res.Downloaded = set, true
	return res, nil
}

// fetchLoader downloads one package, verifies it and writes its loader.
func (p *Puller) fetchLoader(ctx context.Context, work, dir string, pkg repoPackage, w fedoraLoader, keyring openpgp.EntityList, keySource, hint string) (LoaderFile, error) {
	href := pkg.Location.Href
	name := path.Base(href)
	if href == "" || strings.Contains(href, "..") || strings.ContainsAny(href, `\?#`) || strings.HasPrefix(href, "/") || checkSeg("package file", name) != nil {
		return LoaderFile{}, fmt.Errorf("the repository metadata names %s's file %q, which is not a package path pixie accepts", pkg.nevra(), href)
	}
	a, err := checksumArtifact(name, pkg.repo+href, pkg.Checksum.Type, pkg.Checksum.Value, hint)
	if err != nil {
		return LoaderFile{}, err
	}
	if _, err := p.Fetch(ctx, work, a); err != nil {
		return LoaderFile{}, err
	}
	rpmPath := filepath.Join(work, name)
	f, err := os.Open(rpmPath)
	if err != nil {
		return LoaderFile{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return LoaderFile{}, err
	}
	rp, err := rpm.Read(f, fi.Size())
	if err != nil {
		os.Remove(rpmPath)
		return LoaderFile{}, fmt.Errorf("%s (%s): %w; the download was removed, pull again", name, a.URL, err)
	}
	if rp.Name != pkg.Name || rp.Arch != pkg.Arch {
		return LoaderFile{}, fmt.Errorf("%s holds %s, but the repository metadata says %s", a.URL, rp.NEVRA(), pkg.nevra())
	}
	lf := LoaderFile{Name: w.name, Kind: w.kind, Package: rp.NEVRA(), RPM: a.URL, RPMSHA256: a.SHA256}
	if keyring != nil {
		signer, err := rp.VerifySignature(keyring)
		if err != nil {
			os.Remove(rpmPath)
			return LoaderFile{}, fmt.Errorf("%s: %v, checked with %s; the download was removed (give --keyring FILE with Fedora's current key, or --no-signature to rely on the repository checksums alone)", name, err, keySource)
		}
		for n := range signer.Identities {
			lf.Signer = n
			break
		}
		p.logf("%s: header signature verified (%s)", name, lf.Signer)
	} else {
		p.logf("%s: signature not checked (--no-signature); the repository's sha256 was verified", name)
	}
	files, err := rp.Extract([]string{w.path})
	if err != nil {
		os.Remove(rpmPath)
		return LoaderFile{}, fmt.Errorf("%s: %w", name, err)
	}
	body := files[strings.TrimPrefix(w.path, "/")]
	sum := sha256.Sum256(body)
	lf.SHA256, lf.Size = hex.EncodeToString(sum[:]), int64(len(body))
	if err := writeAtomic(filepath.Join(dir, w.name), body); err != nil {
		return LoaderFile{}, err
	}
	p.logf("%s: %s from %s, %d bytes", w.name, w.path, rp.NEVRA(), lf.Size)
	return lf, nil
}

// ReadLoaderSet reads the loader set of the image at imageDir (inside the
// asset store) and checks that each of its files is there with its
// recorded sha256. An image without a set gives an error matching
// fs.ErrNotExist.
func ReadLoaderSet(assetsDir, imageDir string) (LoaderSet, error) {
	var set LoaderSet
	dir := filepath.Join(assetsDir, filepath.FromSlash(imageDir), LoaderDir)
	b, err := os.ReadFile(filepath.Join(dir, LoaderManifestName))
	if err != nil {
		return set, err
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return set, fmt.Errorf("%s is damaged (%v): pull the image again", filepath.Join(dir, LoaderManifestName), err)
	}
	for _, f := range set.Files {
		if checkSeg("loader", f.Name) != nil {
			return set, fmt.Errorf("%s names a loader %q: pull the image again", filepath.Join(dir, LoaderManifestName), f.Name)
		}
		got, err := os.ReadFile(filepath.Join(dir, f.Name))
		if err != nil {
			return set, fmt.Errorf("the loader set in %s lacks %s: pull the image again", dir, f.Name)
		}
		if sum := sha256.Sum256(got); hex.EncodeToString(sum[:]) != f.SHA256 {
			return set, fmt.Errorf("%s does not match its recorded sha256: pull the image again", filepath.Join(dir, f.Name))
		}
	}
	return set, nil
}
