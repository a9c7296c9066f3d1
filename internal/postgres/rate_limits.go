package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrRateBooked is Reserve's refusal: the schedule is taken further ahead
// than the caller can wait.
var ErrRateBooked = errors.New("the shared request rate is booked beyond this call's deadline")

// RateLimit is a request rate every process on the database shares: a row
// of rate_limits holds the earliest time the next request may go, and each
// request takes the slot there and moves it on by one interval (the
// "generic cell rate" schedule, with no burst). The database's clock is the
// only one read, so replicas whose clocks disagree still agree on the slots.
type RateLimit struct {
	db       *DB
	name     string
	interval time.Duration
}

// RateLimit returns the shared limit called name, of perSecond requests a second.
func (db *DB) RateLimit(name string, perSecond int) *RateLimit {
	return &RateLimit{db: db, name: name, interval: time.Second / time.Duration(max(perSecond, 1))}
}

// Reserve takes the next free slot and returns how long until it comes;
// it takes none, and returns ErrRateBooked, when that is more than maxWait.
// A slot taken and not used is lost, which errs on the slow side.
func (l *RateLimit) Reserve(ctx context.Context, maxWait time.Duration) (time.Duration, error) {
	var wait float64
	err := l.db.pool.QueryRow(ctx, `
		INSERT INTO rate_limits AS l (name, next_at) VALUES ($1, clock_timestamp() + $2::bigint * interval '1 microsecond')
		ON CONFLICT (name) DO UPDATE SET next_at = greatest(l.next_at, clock_timestamp()) + $2::bigint * interval '1 microsecond'
		WHERE l.next_at <= clock_timestamp() + $3::bigint * interval '1 microsecond'
		RETURNING extract(epoch FROM next_at - clock_timestamp())::float8 - $2::bigint / 1e6`,
		l.name, l.interval.Microseconds(), min(maxWait, 24*time.Hour).Microseconds()).Scan(&wait)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("rate limit %s: %w", l.name, ErrRateBooked)
	}
	if err != nil {
		return 0, fmt.Errorf("rate limit %s: %w", l.name, err)
	}
	return time.Duration(wait * float64(time.Second)), nil
}

// Pause holds every request back until d from now.
func (l *RateLimit) Pause(ctx context.Context, d time.Duration) error {
	_, err := l.db.pool.Exec(ctx, `
		INSERT INTO rate_limits AS l (name, next_at) VALUES ($1, clock_timestamp() + $2::bigint * interval '1 microsecond')
		ON CONFLICT (name) DO UPDATE SET next_at = greatest(l.next_at, excluded.next_at)`, l.name, d.Microseconds())
	if err != nil {
		return fmt.Errorf("pause rate limit %s: %w", l.name, err)
	}
	return nil
}
