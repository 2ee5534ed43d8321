package images

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// FedoraRepoBase is where Fedora's package repositories live; a mirror
// (--fedora-mirror) replaces it.
const FedoraRepoBase = "https://dl.fedoraproject.org/pub/fedora/linux"

// repoPackage is one package of a repository's primary metadata.
type repoPackage struct {
	Name     string     `xml:"name"`
	Arch     string     `xml:"arch"`
	RawVer   rawVersion `xml:"version"`
	Checksum struct {
		Type  string `xml:"type,attr"`
		Value string `xml:",chardata"`
	} `xml:"checksum"`
	Location struct {
		Href string `xml:"href,attr"`
	} `xml:"location"`
	// repo is the repository's base URL (ends in "/"), set by pixie.
	repo string
}

type rawVersion struct {
	Epoch string `xml:"epoch,attr"`
	Ver   string `xml:"ver,attr"`
	Rel   string `xml:"rel,attr"`
}

func (p repoPackage) evr() evr { return evr{p.RawVer.Epoch, p.RawVer.Ver, p.RawVer.Rel} }

func (p repoPackage) nevra() string { return p.Name + "-" + p.evr().String() + "." + p.Arch }

// repomd is repodata/repomd.xml: where each kind of metadata is, with its
// checksum.
type repomd struct {
	Data []struct {
		Type     string `xml:"type,attr"`
		Checksum struct {
			Type  string `xml:"type,attr"`
			Value string `xml:",chardata"`
		} `xml:"checksum"`
		Location struct {
			Href string `xml:"href,attr"`
		} `xml:"location"`
	} `xml:"data"`
}

// errNoRepo is a repository that is not there (404): Fedora has no
// updates repository for a release before it is out, for instance.
var errNoRepo = errors.New("no such repository")

// checksumArtifact is the Artifact that downloads a repository file,
// with the checksum the metadata gives. Only sha256 and sha512 are
// accepted: anything weaker would not be worth checking.
func checksumArtifact(name, url, typ, value, hint string) (Artifact, error) {
	a := Artifact{Name: name, URL: url, hint: hint}
	switch typ {
	case "sha256":
		a.SHA256 = strings.TrimSpace(value)
	case "sha512":
		a.SHA512 = strings.TrimSpace(value)
	default:
		return a, fmt.Errorf("%s: the repository gives only a %q checksum; pixie needs sha256 or sha512", url, typ)
	}
	return a, nil
}

// findPackages reads the repository at base (its URL, ending in "/") and
// returns the newest package of each wanted name built for arch. The
// primary metadata is downloaded into work, checked against repomd.xml.
func (p *Puller) findPackages(ctx context.Context, base, work, label, arch string, names []string, hint string) (map[string]repoPackage, error) {
	raw, err := p.get(ctx, base+"repodata/repomd.xml", 4<<20)
	if err != nil {
		var fe *FetchError
		if errors.As(err, &fe) && fe.Reason == HTTPStatus && fe.StatusCode == http.StatusNotFound {
			return nil, fmt.Errorf("%w: %s", errNoRepo, base)
		}
		return nil, fmt.Errorf("read the repository metadata of %s: %w", base, withHint(err, hint))
	}
	var md repomd
	if err := xml.Unmarshal(raw, &md); err != nil {
		return nil, fmt.Errorf("%srepodata/repomd.xml is not repository metadata (%v): is the mirror URL right?", base, err)
	}
	for _, d := range md.Data {
		if d.Type != "primary" {
			continue
		}
		href := d.Location.Href
		if !strings.HasPrefix(href, "repodata/") || strings.Contains(href, "..") || strings.ContainsAny(href, `\?#`) {
			return nil, fmt.Errorf("%srepodata/repomd.xml names its primary metadata %q, not a file under repodata/", base, href)
		}
		name := label + "-" + path.Base(href)
		if err := checkSeg("metadata file", name); err != nil {
			return nil, err
		}
		a, err := checksumArtifact(name, base+href, d.Checksum.Type, d.Checksum.Value, hint)
		if err != nil {
			return nil, err
		}
		if _, err := p.Fetch(ctx, work, a); err != nil {
			return nil, err
		}
		return readPrimary(filepath.Join(work, name), base, arch, names)
	}
	return nil, fmt.Errorf("%srepodata/repomd.xml lists no primary metadata", base)
}

// readPrimary streams primary.xml(.gz, .xz, .zst) and keeps the newest
// package of each name for arch. Fedora's is tens of megabytes
// uncompressed: it is never held in memory whole.
func readPrimary(file, base, arch string, names []string) (map[string]repoPackage, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = bufio.NewReaderSize(f, 256<<10)
	switch {
	case strings.HasSuffix(file, ".gz"):
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", filepath.Base(file), err)
		}
		defer z.Close()
		r = z
	case strings.HasSuffix(file, ".xz"):
		z, err := xz.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", filepath.Base(file), err)
		}
		r = z
	case strings.HasSuffix(file, ".zst"):
		z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("%s: %v", filepath.Base(file), err)
		}
		defer z.Close()
		r = z
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]repoPackage{}
	dec := xml.NewDecoder(r)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s is not valid repository metadata: %v", filepath.Base(file), err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "package" {
			continue
		}
		var pkg repoPackage
		if err := dec.DecodeElement(&pkg, &se); err != nil {
			return nil, fmt.Errorf("%s is not valid repository metadata: %v", filepath.Base(file), err)
		}
		if !want[pkg.Name] || pkg.Arch != arch {
			continue
		}
		pkg.repo = base
		if old, ok := out[pkg.Name]; !ok || compareEVR(pkg.evr(), old.evr()) > 0 {
			out[pkg.Name] = pkg
		}
	}
}
