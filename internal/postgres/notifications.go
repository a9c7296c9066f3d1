package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/storefront/storefront/internal/billing"
)

const notificationColumns = `id, customer_id, coalesce(charge_attempt_id, 0), coalesce(order_id, 0), kind, coalesce(recipient, ''), subject, body, link,
	created_at, sent_at, attempts, coalesce(last_error, ''), claimed_until, failing_since, failed_at`

func scanNotification(row pgx.Row) (billing.Notification, error) {
	var (
		n                                          billing.Notification
		sentAt, claimedUntil, failingSince, failed *time.Time
	)
	err := row.Scan(&n.ID, &n.CustomerID, &n.ChargeAttemptID, &n.OrderID, &n.Kind, &n.Recipient, &n.Subject, &n.Body, &n.Link,
		&n.CreatedAt, &sentAt, &n.Attempts, &n.LastError, &claimedUntil, &failingSince, &failed)
	if errors.Is(err, pgx.ErrNoRows) {
		return n, billing.ErrNotFound
	}
	n.SentAt, n.ClaimedUntil, n.FailingSince, n.FailedAt = deref(sentAt), deref(claimedUntil), deref(failingSince), deref(failed)
	return n, err
}

// deref is what p points to, or the zero value for a NULL.
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// insertNotification writes a customer message and, in the same transaction,
// enqueues the job that emails it: every notification goes through here, so
// none is written without its job or sent without its row. A message that a
// unique constraint says exists already (the same attempt's, the same
// reminder's, the same order's confirmation) is skipped: it returns false and
// enqueues nothing. So is a message about a charge attempt that is no longer
// unpaid.
func (db *DB) insertNotification(ctx context.Context, tx pgx.Tx, n billing.Notification) (int64, bool, error) {
	var id int64
	err := tx.QueryRow(ctx, `
		INSERT INTO notifications (customer_id, charge_attempt_id, order_id, kind, recipient, subject, body, link, created_at)
		SELECT $1, $2, $3, $4, nullif($5, ''), $6, $7, $8, coalesce($9, now())
		WHERE $2::bigint IS NULL
		   OR EXISTS (SELECT 1 FROM charge_attempts WHERE id = $2 AND status IN ('declined', 'authentication_required'))
		ON CONFLICT DO NOTHING
		RETURNING id`,
		n.CustomerID, nullID(n.ChargeAttemptID), nullID(n.OrderID), n.Kind, n.Recipient, n.Subject, n.Body, n.Link, nullTime(n.CreatedAt)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("insert notification: %w", err)
	}
	if n.Recipient != "" {
		if err := db.enqueueSend(ctx, tx, id); err != nil {
			return 0, false, err
		}
	}
	return id, true, nil
}

// enqueueSend inserts the job that emails notification id, in tx.
func (db *DB) enqueueSend(ctx context.Context, tx pgx.Tx, id int64) error {
	_, err := db.jobs.InsertTx(ctx, tx, billing.SendNotificationArgs{NotificationID: id},
		&river.InsertOpts{Queue: billing.QueueEmail, MaxAttempts: billing.EmailMaxAttempts})
	if err != nil {
		return fmt.Errorf("enqueue sending notification %d: %w", id, err)
	}
	return nil
}

// failedNotification is a message given up on, which staff may send again
// (billing.NotificationFailed); migration 018 indexes it.
const failedNotification = `sent_at IS NULL AND failed_at IS NOT NULL`

// Notifications returns a page of the outbox, newest first, by keyset.
func (db *DB) Notifications(ctx context.Context, q billing.OutboxQuery) ([]billing.Notification, error) {
	var args queryArgs
	where := []string{"true"}
	if q.FailedOnly {
		where = append(where, failedNotification)
	}
	if q.BeforeID != 0 {
		where = append(where, "(created_at, id) < ("+args.add(q.Before)+", "+args.add(q.BeforeID)+")")
	}
	rows, err := db.pool.Query(ctx, `SELECT `+notificationColumns+` FROM notifications WHERE `+strings.Join(where, " AND ")+`
		ORDER BY created_at DESC, id DESC LIMIT `+args.add(q.Limit), args...)
	if err != nil {
		return nil, fmt.Errorf("notifications: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (billing.Notification, error) { return scanNotification(row) })
	if err != nil {
		return nil, fmt.Errorf("notifications: %w", err)
	}
	return list, nil
}

// FailedNotifications counts the failed messages (few, and indexed apart).
func (db *DB) FailedNotifications(ctx context.Context) (int, error) {
	var n int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM notifications WHERE `+failedNotification).Scan(&n); err != nil {
		return 0, fmt.Errorf("failed notifications: %w", err)
	}
	return n, nil
}

// Notification returns one notification.
func (db *DB) Notification(ctx context.Context, id int64) (billing.Notification, error) {
	n, err := scanNotification(db.pool.QueryRow(ctx, `SELECT `+notificationColumns+` FROM notifications WHERE id = $1`, id))
	if err != nil {
		return n, fmt.Errorf("notification %d: %w", id, err)
	}
	return n, nil
}

// ClaimNotification holds an unsent message for one sender until now+lease,
// in one short statement: the send happens after it, with no transaction
// open. Claiming a failed message (a job retried by hand) starts a new run
// of tries. A sent message, one without a recipient, or one another sender
// holds is returned unclaimed, as it is.
func (db *DB) ClaimNotification(ctx context.Context, id int64, lease time.Duration) (billing.Notification, bool, error) {
	n, err := scanNotification(db.pool.QueryRow(ctx, `
		UPDATE notifications
		SET claimed_until = now() + $2 * interval '1 millisecond',
		    failing_since = CASE WHEN failed_at IS NULL THEN failing_since END,
		    failed_at = NULL
		WHERE id = $1 AND sent_at IS NULL AND recipient IS NOT NULL
		  AND (claimed_until IS NULL OR claimed_until < now())
		RETURNING `+notificationColumns, id, lease.Milliseconds()))
	if errors.Is(err, billing.ErrNotFound) {
		n, err = db.Notification(ctx, id)
		if err != nil {
			return n, false, fmt.Errorf("claim: %w", err)
		}
		return n, false, nil
	}
	if err != nil {
		return n, false, fmt.Errorf("claim notification %d: %w", id, err)
	}
	return n, true, nil
}

// RecordNotificationSent marks a message sent and ends its claim.
func (db *DB) RecordNotificationSent(ctx context.Context, id int64) error {
	_, err := db.pool.Exec(ctx, `
		UPDATE notifications
		SET attempts = attempts + 1, sent_at = now(), last_error = NULL, claimed_until = NULL,
		    failing_since = NULL, failed_at = NULL
		WHERE id = $1 AND sent_at IS NULL`, id)
	if err != nil {
		return fmt.Errorf("notification %d sent: %w", id, err)
	}
	return nil
}

// RecordNotificationFailure records a failed send and ends its claim; with
// failed set, the message is given up.
func (db *DB) RecordNotificationFailure(ctx context.Context, id int64, lastError string, failingSince time.Time, failed bool) error {
	_, err := db.pool.Exec(ctx, `
		UPDATE notifications
		SET attempts = attempts + 1, last_error = $2, claimed_until = NULL, failing_since = $3,
		    failed_at = CASE WHEN $4 THEN now() END
		WHERE id = $1 AND sent_at IS NULL`, id, lastError, failingSince, failed)
	if err != nil {
		return fmt.Errorf("notification %d not sent: %w", id, err)
	}
	return nil
}

// ResendNotification unfails a failed message and enqueues a new send job,
// in one transaction; it returns false when the message was not failed.
func (db *DB) ResendNotification(ctx context.Context, id int64) (bool, error) {
	resent := false
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE notifications SET failed_at = NULL, failing_since = NULL
			WHERE id = $1 AND failed_at IS NOT NULL AND sent_at IS NULL AND recipient IS NOT NULL`, id)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		resent = true
		return db.enqueueSend(ctx, tx, id)
	})
	if err != nil {
		return false, fmt.Errorf("send notification %d again: %w", id, err)
	}
	return resent, nil
}

// RecoveryRemindersDue returns the recovery links (payment_failed
// notifications) created between from and through whose attempt is still
// unpaid and that have had no reminder, oldest first.
func (db *DB) RecoveryRemindersDue(ctx context.Context, from, through time.Time, limit int) ([]billing.Notification, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT `+notificationColumns+` FROM notifications n
		WHERE n.kind = 'payment_failed' AND n.created_at > $1 AND n.created_at <= $2
		  AND EXISTS (SELECT 1 FROM charge_attempts ca WHERE ca.id = n.charge_attempt_id AND ca.status IN ('declined', 'authentication_required'))
		  AND NOT EXISTS (SELECT 1 FROM notifications r WHERE r.charge_attempt_id = n.charge_attempt_id AND r.kind = 'payment_reminder')
		ORDER BY n.created_at, n.id LIMIT $3`, from, through, limit)
	if err != nil {
		return nil, fmt.Errorf("recovery reminders due: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (billing.Notification, error) { return scanNotification(row) })
	if err != nil {
		return nil, fmt.Errorf("recovery reminders due: %w", err)
	}
	return list, nil
}
