package images

import (
	"bytes"
	"embed"
	"fmt"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// The distributions' public signing keys, embedded so `pixie images pull`
// verifies the published signatures without the user fetching a key.
// keys/README.md says where each file came from.
//
//go:embed keys/*.asc
var keyFiles embed.FS

// DistributionKey is one embedded public key and the fingerprint it must
// have.
type DistributionKey struct {
	OS          string // the OS whose images it signs
	File        string // under keys/
	Fingerprint string // of the primary key, upper-case hex
	What        string
}

// DistributionKeys lists the embedded keys. Fedora CoreOS artifacts are
// signed with the primary key of the Fedora release they are built from
// (coreos-installer verifies them the same way); Flatcar's with the
// current signing subkey of the Flatcar Buildbot key.
var DistributionKeys = []DistributionKey{
	{"fedora-coreos", "fedora-43-primary.asc", "C6E7F081CF80E13146676E88829B606631645531", "Fedora (43) <fedora-43-primary@fedoraproject.org>"},
	{"fedora-coreos", "fedora-44-primary.asc", "36F612DCF27F7D1A48A835E4DBFCF71C6D9F90A6", "Fedora (44) <fedora-44-primary@fedoraproject.org>"},
	{"fedora-coreos", "fedora-45-primary.asc", "4F50A6114CD5C6976A7F1179655A4B02F577861E", "Fedora (45) <fedora-45-primary@fedoraproject.org>"},
	{"fedora-coreos", "fedora-46-primary.asc", "D924B10D3E810DABDD8B56B596E7E91491211FCE", "Fedora (46) <fedora-46-primary@fedoraproject.org>"},
	{"fedora-coreos", "fedora-47-primary.asc", "B2E766FA50CA6FA2D5ED06FC09D879E09488FB64", "Fedora (47) <fedora-47-primary@fedoraproject.org>"},
	{"flatcar", "flatcar-image-signing-key.asc", "F88CFEDEFF29A5B4D9523864E25D9AED0593B34A", "Flatcar Buildbot (Official Builds) <buildbot@flatcar-linux.org>"},
}

// DistributionKeyring returns the embedded keys that sign osName's images,
// each checked against its listed fingerprint; nil when pixie embeds none
// for that OS.
func DistributionKeyring(osName string) (openpgp.EntityList, error) {
	var out openpgp.EntityList
	for _, k := range DistributionKeys {
		if k.OS != osName {
			continue
		}
		b, err := keyFiles.ReadFile("keys/" + k.File)
		if err != nil {
			return nil, fmt.Errorf("embedded key %s: %w", k.File, err)
		}
		el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("embedded key %s: %w", k.File, err)
		}
		if len(el) != 1 {
			return nil, fmt.Errorf("embedded key %s holds %d keys, want 1", k.File, len(el))
		}
		if got := strings.ToUpper(fmt.Sprintf("%x", el[0].PrimaryKey.Fingerprint)); got != k.Fingerprint {
			return nil, fmt.Errorf("embedded key %s has fingerprint %s, want %s", k.File, got, k.Fingerprint)
		}
		out = append(out, el...)
	}
	return out, nil
}
