package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/pixie-boot/pixie/daemon/hwaddr"
)

// Why a boot token was refused. Callers test with errors.Is and show the
// message in the machine's boot timeline.
var (
	ErrTokenMissing  = errors.New("no token in the request")
	ErrTokenUnknown  = errors.New("unknown token")
	ErrTokenExpired  = errors.New("token expired")
	ErrTokenWrongMAC = errors.New("token was issued to another machine")
)

// tokenKeep is how long a token row is kept after it expires: the phone-home
// call of a machine that took long to install still finds its token.
const tokenKeep = 7 * 24 * time.Hour

// IssueBootToken creates a random token for one MAC, valid for ttl, and
// returns it. Only its SHA-256 is stored: a copy of the database does not
// reveal tokens. Expired tokens are swept on the way.
func (s *Store) IssueBootToken(ctx context.Context, mac string, ttl time.Duration) (string, error) {
	norm, err := hwaddr.Parse(mac)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	tok := base64.RawURLEncoding.EncodeToString(raw)
	now := time.Now()
	if _, err := s.db.ExecContext(ctx, `DELETE FROM boot_tokens WHERE expires_at < ?`, now.Add(-tokenKeep).UnixNano()); err != nil {
		return "", err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO boot_tokens(hash, mac, created_at, expires_at) VALUES(?, ?, ?, ?)`,
		tokenHash(tok), norm, now.UnixNano(), now.Add(ttl).UnixNano())
	if err != nil {
		return "", err
	}
	return tok, nil
}

// BootToken is what the store knows about one issued token.
type BootToken struct {
	MAC       string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// CheckBootToken says whether tok was issued to mac and is still valid at
// now. It returns the token's record when it exists (also when expired or
// issued to another MAC), and one of the ErrToken errors when refused.
func (s *Store) CheckBootToken(ctx context.Context, tok, mac string, now time.Time) (BootToken, error) {
	var t BootToken
	if tok == "" {
		return t, ErrTokenMissing
	}
	norm, err := hwaddr.Parse(mac)
	if err != nil {
		return t, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	var created, expires int64
	err = s.db.QueryRowContext(ctx, `SELECT mac, created_at, expires_at FROM boot_tokens WHERE hash = ?`, tokenHash(tok)).
		Scan(&t.MAC, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return t, ErrTokenUnknown
	}
	if err != nil {
		return t, err
	}
	t.CreatedAt, t.ExpiresAt = time.Unix(0, created).UTC(), time.Unix(0, expires).UTC()
	if t.MAC != norm {
		return t, ErrTokenWrongMAC
	}
	if !now.Before(t.ExpiresAt) {
		return t, ErrTokenExpired
	}
	return t, nil
}

func tokenHash(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}
