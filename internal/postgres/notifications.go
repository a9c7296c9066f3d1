package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storefront/storefront/internal/billing"
)

const notificationColumns = `id, customer_id, coalesce(charge_attempt_id, 0), kind, coalesce(recipient, ''), subject, body, link,
	created_at, sent_at, attempts, coalesce(last_error, '')`

func scanNotification(row pgx.Row) (billing.Notification, error) {
	var (
		n      billing.Notification
		sentAt *time.Time
	)
	err := row.Scan(&n.ID, &n.CustomerID, &n.ChargeAttemptID, &n.Kind, &n.Recipient, &n.Subject, &n.Body, &n.Link,
		&n.CreatedAt, &sentAt, &n.Attempts, &n.LastError)
	if sentAt != nil {
		n.SentAt = *sentAt
	}
	return n, err
}

// Notifications returns the newest notifications.
func (db *DB) Notifications(ctx context.Context, limit int) ([]billing.Notification, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+notificationColumns+` FROM notifications ORDER BY created_at DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("notifications: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (billing.Notification, error) { return scanNotification(row) })
	if err != nil {
		return nil, fmt.Errorf("notifications: %w", err)
	}
	return list, nil
}

// maxSendAttempts stops retrying a notification that cannot be delivered.
const maxSendAttempts = 10

// ClaimNotification leases the oldest unsent notification to this sender
// until now+lease, in one short statement: the send happens after it, with
// no transaction open. A message leased by another replica is skipped; one
// whose lease ran out (its sender died mid-send) is claimed again.
func (db *DB) ClaimNotification(ctx context.Context, lease time.Duration) (billing.Notification, bool, error) {
	n, err := scanNotification(db.pool.QueryRow(ctx, `
		UPDATE notifications SET claimed_until = now() + $2 * interval '1 millisecond'
		WHERE id = (
			SELECT id FROM notifications
			WHERE sent_at IS NULL AND attempts < $1 AND recipient IS NOT NULL
			  AND (claimed_until IS NULL OR claimed_until < now())
			ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING `+notificationColumns, maxSendAttempts, lease.Milliseconds()))
	if errors.Is(err, pgx.ErrNoRows) {
		return billing.Notification{}, false, nil
	}
	if err != nil {
		return billing.Notification{}, false, fmt.Errorf("claim notification: %w", err)
	}
	return n, true, nil
}

// NotificationSent records the outcome of sending a claimed notification and
// ends its lease: sent, or the error (it is tried again on a later round).
func (db *DB) NotificationSent(ctx context.Context, id int64, sendErr error) error {
	var err error
	if sendErr != nil {
		_, err = db.pool.Exec(ctx, `UPDATE notifications SET attempts = attempts + 1, last_error = $2, claimed_until = NULL WHERE id = $1`, id, sendErr.Error())
	} else {
		_, err = db.pool.Exec(ctx, `UPDATE notifications SET attempts = attempts + 1, sent_at = now(), last_error = NULL, claimed_until = NULL WHERE id = $1 AND sent_at IS NULL`, id)
	}
	if err != nil {
		return fmt.Errorf("notification %d sent: %w", id, err)
	}
	return nil
}
