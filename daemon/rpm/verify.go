package rpm

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
)

// ErrUnsigned means the package carries no OpenPGP header signature.
var ErrUnsigned = errors.New("the package is not signed")

// VerifySignature checks the OpenPGP signature over the main header with
// the keys in keyring and returns the key that made it. Since the header
// holds the payload's digest, which Extract checks, this vouches for the
// files too. rpm 4 puts the signature in RSAHEADER (DSAHEADER for DSA and
// EdDSA keys), rpm 6 in OPENPGP as base64; any one that verifies is enough.
func (p *Package) VerifySignature(keyring openpgp.KeyRing) (*openpgp.Entity, error) {
	var sigs [][]byte
	for _, tag := range []uint32{sigTagRSA, sigTagDSA} {
		if b, ok := p.sig.bin(tag); ok {
			sigs = append(sigs, b)
		}
	}
	if list, ok := p.sig.strs(sigTagPGPv6); ok {
		for _, s := range list {
			if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s)); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	if len(sigs) == 0 {
		return nil, fmt.Errorf("%s: %w", p.NEVRA(), ErrUnsigned)
	}
	var firstErr error
	for _, sig := range sigs {
		signer, err := openpgp.CheckDetachedSignature(keyring, bytes.NewReader(p.main.raw), bytes.NewReader(sig), nil)
		if err == nil {
			return signer, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if errors.Is(firstErr, pgperrors.ErrUnknownIssuer) {
		return nil, fmt.Errorf("%s is signed by a key that is not among the trusted ones", p.NEVRA())
	}
	return nil, fmt.Errorf("%s: the header signature does not verify (%v): the package was altered or is damaged", p.NEVRA(), firstErr)
}
