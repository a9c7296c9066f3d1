package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/storefront/storefront/internal/staff"
)

var _ staff.Store = (*DB)(nil)

func scanStaffUser(row pgx.Row) (staff.User, error) {
	var (
		u        staff.User
		disabled *time.Time
	)
	err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.CreatedAt, &disabled)
	if errors.Is(err, pgx.ErrNoRows) {
		return u, staff.ErrNotFound
	}
	if disabled != nil {
		u.DisabledAt = *disabled
	}
	return u, err
}

const staffUserColumns = `id, email, password_hash, created_at, disabled_at`

// CreateStaffUser adds a staff user; an email already taken, in any case, is staff.ErrExists.
func (db *DB) CreateStaffUser(ctx context.Context, email, passwordHash string) (staff.User, error) {
	u, err := scanStaffUser(db.pool.QueryRow(ctx, `
		INSERT INTO staff_users (email, password_hash) VALUES (lower($1), $2)
		RETURNING `+staffUserColumns, email, passwordHash))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == codeUniqueViolation {
		return staff.User{}, staff.ErrExists
	}
	if err != nil {
		return staff.User{}, fmt.Errorf("create staff user: %w", err)
	}
	return u, nil
}

// StaffUserByEmail returns a staff user by email, whatever its case.
func (db *DB) StaffUserByEmail(ctx context.Context, email string) (staff.User, error) {
	u, err := scanStaffUser(db.pool.QueryRow(ctx, `SELECT `+staffUserColumns+` FROM staff_users WHERE lower(email) = lower($1)`, email))
	if err != nil && !errors.Is(err, staff.ErrNotFound) {
		return u, fmt.Errorf("staff user by email: %w", err)
	}
	return u, err
}

// StaffUsers returns every staff user, oldest first.
func (db *DB) StaffUsers(ctx context.Context) ([]staff.User, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+staffUserColumns+` FROM staff_users ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("staff users: %w", err)
	}
	users, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (staff.User, error) { return scanStaffUser(row) })
	if err != nil {
		return nil, fmt.Errorf("staff users: %w", err)
	}
	return users, nil
}

// DisableStaffUser disables a user and ends their sessions, in one transaction.
func (db *DB) DisableStaffUser(ctx context.Context, email string, at time.Time) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `UPDATE staff_users SET disabled_at = coalesce(disabled_at, $2)
			WHERE lower(email) = lower($1) RETURNING id`, email, at).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return staff.ErrNotFound
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM staff_sessions WHERE user_id = $1`, id)
		return err
	})
	if err != nil && !errors.Is(err, staff.ErrNotFound) {
		return fmt.Errorf("disable staff user: %w", err)
	}
	return err
}

// CreateStaffSession records a new login session.
func (db *DB) CreateStaffSession(ctx context.Context, s staff.Session) error {
	_, err := db.pool.Exec(ctx, `
		INSERT INTO staff_sessions (token_hash, user_id, actor, created_at, last_seen_at, expires_at)
		VALUES ($1, nullif($2, 0), $3, $4, $5, $6)`,
		s.TokenHash, s.UserID, s.Actor, s.CreatedAt, s.LastSeenAt, s.ExpiresAt)
	if err != nil {
		return fmt.Errorf("create staff session: %w", err)
	}
	return nil
}

// StaffSession returns a session by its token's hash, with whether its user is disabled.
func (db *DB) StaffSession(ctx context.Context, tokenHash []byte) (staff.Session, error) {
	var s staff.Session
	err := db.pool.QueryRow(ctx, `
		SELECT s.token_hash, coalesce(s.user_id, 0), s.actor, s.created_at, s.last_seen_at, s.expires_at,
		       coalesce(u.disabled_at IS NOT NULL, false)
		FROM staff_sessions s LEFT JOIN staff_users u ON u.id = s.user_id
		WHERE s.token_hash = $1`, tokenHash).
		Scan(&s.TokenHash, &s.UserID, &s.Actor, &s.CreatedAt, &s.LastSeenAt, &s.ExpiresAt, &s.UserDisabled)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, staff.ErrNotFound
	}
	if err != nil {
		return s, fmt.Errorf("staff session: %w", err)
	}
	return s, nil
}

// TouchStaffSession records a session's latest use; it never moves backwards.
func (db *DB) TouchStaffSession(ctx context.Context, tokenHash []byte, at time.Time) error {
	_, err := db.pool.Exec(ctx, `UPDATE staff_sessions SET last_seen_at = greatest(last_seen_at, $2) WHERE token_hash = $1`, tokenHash, at)
	if err != nil {
		return fmt.Errorf("touch staff session: %w", err)
	}
	return nil
}

// DeleteStaffSession ends a session, and with it any session long past its end.
func (db *DB) DeleteStaffSession(ctx context.Context, tokenHash []byte) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM staff_sessions WHERE token_hash = $1 OR expires_at < now() - interval '1 day'`, tokenHash)
	if err != nil {
		return fmt.Errorf("delete staff session: %w", err)
	}
	return nil
}

// Throttles reads the throttle rows of keys, without locking them.
func (db *DB) Throttles(ctx context.Context, keys []string) (map[string]staff.Throttle, error) {
	rows, err := db.pool.Query(ctx, `SELECT key, failures, locked_until, updated_at FROM staff_login_throttle WHERE key = ANY($1)`, keys)
	if err != nil {
		return nil, fmt.Errorf("login throttles: %w", err)
	}
	state, err := scanThrottles(rows)
	if err != nil {
		return nil, fmt.Errorf("login throttles: %w", err)
	}
	return state, nil
}

// scanThrottles reads rows of (key, failures, locked_until, updated_at).
func scanThrottles(rows pgx.Rows) (map[string]staff.Throttle, error) {
	defer rows.Close()
	state := map[string]staff.Throttle{}
	for rows.Next() {
		var (
			key    string
			t      staff.Throttle
			locked *time.Time
		)
		if err := rows.Scan(&key, &t.Failures, &locked, &t.UpdatedAt); err != nil {
			return nil, err
		}
		if locked != nil {
			t.LockedUntil = *locked
		}
		state[key] = t
	}
	return state, rows.Err()
}

// UpdateThrottles reads the throttle rows of keys under row locks, lets
// update change them and writes them back, in one transaction. Keys are
// locked in sorted order so that two sign-ins never deadlock.
func (db *DB) UpdateThrottles(ctx context.Context, keys []string, update func(map[string]staff.Throttle) (map[string]staff.Throttle, error)) error {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		// Make the rows exist, so that the first failures of a new key are locked too.
		if _, err := tx.Exec(ctx, `
			INSERT INTO staff_login_throttle (key, updated_at) SELECT k, now() FROM unnest($1::text[]) AS k ORDER BY k
			ON CONFLICT (key) DO NOTHING`, keys); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT key, failures, locked_until, updated_at FROM staff_login_throttle
			WHERE key = ANY($1) ORDER BY key FOR UPDATE`, keys)
		if err != nil {
			return err
		}
		state, err := scanThrottles(rows)
		if err != nil {
			return err
		}
		for key, t := range state {
			if t.Failures == 0 && t.LockedUntil.IsZero() {
				state[key] = staff.Throttle{} // just made: reads as zero
			}
		}
		next, err := update(state)
		if err != nil {
			return err
		}
		batch := &pgx.Batch{}
		for _, key := range keys {
			t := next[key]
			if t == (staff.Throttle{}) {
				batch.Queue(`DELETE FROM staff_login_throttle WHERE key = $1`, key)
				continue
			}
			var locked *time.Time
			if !t.LockedUntil.IsZero() {
				locked = &t.LockedUntil
			}
			batch.Queue(`UPDATE staff_login_throttle SET failures = $2, locked_until = $3, updated_at = $4 WHERE key = $1`,
				key, t.Failures, locked, t.UpdatedAt)
		}
		// Forget keys quiet for a day, so that guessed names do not pile up.
		batch.Queue(`DELETE FROM staff_login_throttle WHERE updated_at < now() - interval '1 day' AND NOT (key = ANY($1))`, keys)
		return tx.SendBatch(ctx, batch).Close()
	})
	if err != nil {
		return fmt.Errorf("update login throttles: %w", err)
	}
	return nil
}
