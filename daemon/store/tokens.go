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

// Bounds on the token table. Every /ipxe?mac=... request issues a token,
// and anyone on the LAN can send those with made-up MACs, so without bounds
// an HTTP flood would grow the database for as long as tokens are kept.
//
//   - tokensPerMAC: a MAC keeps only its newest few tokens (enforced on
//     every insert, through the mac index). A machine that reboots a few
//     times while an older boot is still fetching its config keeps working;
//     a boot superseded by tokensPerMAC newer ones of the same MAC is not.
//   - tokensMax: the whole table keeps at most this many rows, oldest
//     dropped first (enforced every tokenTrimEvery inserts, like the event
//     table, so it may briefly hold tokenTrimEvery-1 more). Rows past
//     tokenKeep go first.
//
// The trade-off: a flood of more than tokensMax tokens for other MACs
// within one boot's lifetime can drop the token of a machine that is not
// flooding, and its Ignition fetch is then refused as an unknown token (a
// reboot gets a new one). To keep that from hitting the machines pixie was
// told about, the global trim drops tokens of MACs without a machine record
// first: known machines' tokens are bounded by tokensPerMAC times the
// machine count, which the administrator controls. Only if those alone
// exceed tokensMax are they trimmed too, oldest first. Unknown machines
// (booting the default profile) share the rest with whoever floods.
const (
	tokensPerMAC   = 4
	tokensMax      = 10000
	tokenTrimEvery = 100
)

// IssueBootToken creates a random token for one MAC, valid for ttl, and
// returns it. Only its SHA-256 is stored: a copy of the database does not
// reveal tokens. The table is kept within tokensPerMAC and tokensMax on
// the way.
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
	s.hotWrites.Lock()
	defer s.hotWrites.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return "", diskFull(err)
	}
	defer tx.Rollback()
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO boot_tokens(hash, mac, created_at, expires_at) VALUES(?, ?, ?, ?) RETURNING id`,
		tokenHash(tok), norm, now.UnixNano(), now.Add(ttl).UnixNano()).Scan(&id)
	if err != nil {
		return "", diskFull(err)
	}
	// IDs grow with every insert (AUTOINCREMENT, an identity column), so
	// ID order is issue order, also when the clock steps back.
	if _, err := tx.ExecContext(ctx, `DELETE FROM boot_tokens WHERE mac = ?1 AND id <=
		(SELECT id FROM boot_tokens WHERE mac = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)`, norm, tokensPerMAC); err != nil {
		return "", diskFull(err)
	}
	if id%tokenTrimEvery == 0 {
		if err := trimTokens(ctx, tx, now); err != nil {
			return "", diskFull(fmt.Errorf("trim old boot tokens: %w", err))
		}
	}
	if err := tx.Commit(); err != nil {
		return "", diskFull(err)
	}
	return tok, nil
}

// trimTokens deletes the rows kept past tokenKeep, then brings the table
// down to tokensMax: oldest tokens of MACs without a machine record first,
// then (only if still over) the oldest of any MAC.
func trimTokens(ctx context.Context, tx *sqlTx, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM boot_tokens WHERE expires_at < ?`, now.Add(-tokenKeep).UnixNano()); err != nil {
		return err
	}
	var n int64
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM boot_tokens`).Scan(&n); err != nil {
		return err
	}
	if n <= tokensMax {
		return nil
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM boot_tokens WHERE id IN
		(SELECT id FROM boot_tokens WHERE mac NOT IN (SELECT mac FROM machines) ORDER BY id LIMIT ?)`, n-tokensMax)
	if err != nil {
		return err
	}
	gone, _ := res.RowsAffected()
	if n-gone <= tokensMax {
		return nil
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM boot_tokens WHERE id IN
		(SELECT id FROM boot_tokens ORDER BY id LIMIT ?)`, n-gone-tokensMax)
	return err
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
	if !now.Before(t.ExpiresAt.Add(tokenKeep)) {
		// Kept past tokenKeep only because no trim ran since: as good as
		// deleted.
		return BootToken{}, ErrTokenUnknown
	}
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
