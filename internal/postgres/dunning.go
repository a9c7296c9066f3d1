package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storefront/storefront/internal/billing"
)

// dunningColumns are a dunning row's, under the alias d; all NULL for an
// attempt that has none (a LEFT JOIN).
const dunningColumns = `coalesce(d.charge_attempt_id, 0), coalesce(d.status, ''), coalesce(d.retries_done, 0),
	d.started_at, d.next_retry_at, d.finished_at, coalesce(d.last_attempt_id, 0), coalesce(d.outcome, '')`

type dunningRow struct {
	d                                  billing.Dunning
	status                             string
	startedAt, nextRetryAt, finishedAt *time.Time
}

func (r *dunningRow) fields() []any {
	return []any{&r.d.AttemptID, &r.status, &r.d.RetriesDone, &r.startedAt, &r.nextRetryAt, &r.finishedAt, &r.d.LastAttemptID, &r.d.Outcome}
}

func (r *dunningRow) dunning() billing.Dunning {
	d := r.d
	d.Status = billing.DunningStatus(r.status)
	for _, t := range []struct {
		dst *time.Time
		src *time.Time
	}{{&d.StartedAt, r.startedAt}, {&d.NextRetryAt, r.nextRetryAt}, {&d.FinishedAt, r.finishedAt}} {
		if t.src != nil {
			*t.dst = *t.src
		}
	}
	return d
}

// ClaimDunning leases the most overdue retry to this caller until
// now+lease, in one short statement; the retry is made after it, with no
// transaction open. A dunning leased by another replica is skipped; one
// whose lease ran out (its replica died mid-retry) is claimed again.
func (db *DB) ClaimDunning(ctx context.Context, now time.Time, lease time.Duration) (billing.Dunning, bool, error) {
	var r dunningRow
	err := db.pool.QueryRow(ctx, `
		UPDATE dunning d SET claimed_until = $1::timestamptz + $2 * interval '1 millisecond'
		WHERE d.charge_attempt_id = (
			SELECT charge_attempt_id FROM dunning
			WHERE status = 'retrying' AND next_retry_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1)
			ORDER BY next_retry_at, charge_attempt_id LIMIT 1 FOR UPDATE )
		RETURNING `+dunningColumns, now, lease.Milliseconds()).Scan(r.fields()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return billing.Dunning{}, false, nil
	}
	if err != nil {
		return billing.Dunning{}, false, fmt.Errorf("claim dunning: %w", err)
	}
	return r.dunning(), true, nil
}

// writeDunningChange takes one step of a dunning, and tells whether it was
// taken: a start only for an attempt still declined and not dunned yet, a
// later step only from the retry count it names, so a step taken twice (a
// webhook and a run, or two replicas) is taken once. A retry that paid
// marks the declined attempt paid by it, in the same transaction; if the
// attempt was paid meanwhile through its recovery link, the retry's payment
// is recorded as a duplicate, to be refunded.
func writeDunningChange(ctx context.Context, tx pgx.Tx, c billing.DunningChange) (bool, error) {
	if c.Start {
		tag, err := tx.Exec(ctx, `
			INSERT INTO dunning (charge_attempt_id, started_at, next_retry_at)
			SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM charge_attempts WHERE id = $1 AND status = 'declined')
			ON CONFLICT (charge_attempt_id) DO NOTHING`, c.AttemptID, c.StartedAt, c.NextRetryAt)
		if err != nil {
			return false, fmt.Errorf("start dunning of attempt %d: %w", c.AttemptID, err)
		}
		return tag.RowsAffected() == 1, nil
	}
	tag, err := tx.Exec(ctx, `
		UPDATE dunning
		SET status = $2, retries_done = $3, next_retry_at = $4, last_attempt_id = coalesce($5, last_attempt_id),
		    outcome = nullif($6, ''), finished_at = CASE WHEN $2 = 'retrying' THEN NULL ELSE $7::timestamptz END,
		    claimed_until = NULL
		WHERE charge_attempt_id = $1 AND status = 'retrying' AND retries_done = $8`,
		c.AttemptID, string(c.Status), c.RetriesDone, nullTime(c.NextRetryAt), nullID(c.LastAttemptID), c.Outcome, c.At, c.From)
	if err != nil {
		return false, fmt.Errorf("dunning of attempt %d: %w", c.AttemptID, err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	if c.PaidBy != "" {
		b := &pgx.Batch{}
		b.Queue(`
			UPDATE charge_attempts SET status = 'recovered', recovered_at = now(), recovered_payment_intent_id = $2, updated_at = now()
			WHERE id = $1 AND status IN ('declined', 'authentication_required')`, c.AttemptID, c.PaidBy)
		queueDuplicatePayment(b, billing.Recovery{AttemptID: c.AttemptID, PaymentIntentID: c.PaidBy})
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return false, fmt.Errorf("dunning of attempt %d: record payment %s: %w", c.AttemptID, c.PaidBy, err)
		}
	}
	return true, nil
}
