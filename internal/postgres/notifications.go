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

// ClaimNotification sends the oldest unsent notification under a row lock
// that other replicas skip, and records the result with it.
func (db *DB) ClaimNotification(ctx context.Context, send func(billing.Notification) error) (bool, error) {
	claimed := false
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		n, err := scanNotification(tx.QueryRow(ctx, `
			SELECT `+notificationColumns+` FROM notifications
			WHERE sent_at IS NULL AND attempts < $1 AND recipient IS NOT NULL
			ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`, maxSendAttempts))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		claimed = true
		if sendErr := send(n); sendErr != nil {
			_, err = tx.Exec(ctx, `UPDATE notifications SET attempts = attempts + 1, last_error = $2 WHERE id = $1`, n.ID, sendErr.Error())
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE notifications SET attempts = attempts + 1, sent_at = now(), last_error = NULL WHERE id = $1`, n.ID)
		return err
	})
	if err != nil {
		return claimed, fmt.Errorf("claim notification: %w", err)
	}
	return claimed, nil
}
