package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storefront/storefront/internal/billing"
)

// ExpiringDefaultCards returns active default cards, of customers with an
// email, expiring in a month from first through last, that have had no
// reminder for that expiry.
func (db *DB) ExpiringDefaultCards(ctx context.Context, first, last time.Time, limit int) ([]billing.SavedPaymentMethod, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT `+paymentMethodColumns+`, c.email, coalesce(c.stripe_customer_id, '')
		FROM customers c JOIN payment_methods pm ON pm.id = c.default_payment_method_id`+paymentMethodFailure+`
		WHERE c.email IS NOT NULL AND pm.status = 'active'
		  AND pm.exp_year * 12 + pm.exp_month - 1 BETWEEN $1 AND $2
		  AND NOT EXISTS (SELECT 1 FROM card_expiry_reminders r
		                  WHERE r.payment_method_id = pm.id AND r.exp_month = pm.exp_month AND r.exp_year = pm.exp_year)
		ORDER BY pm.exp_year, pm.exp_month, pm.id LIMIT $3`, monthNumber(first), monthNumber(last), limit)
	if err != nil {
		return nil, fmt.Errorf("expiring default cards: %w", err)
	}
	list, err := pgx.CollectRows(rows, scanSavedPaymentMethod)
	if err != nil {
		return nil, fmt.Errorf("expiring default cards: %w", err)
	}
	return list, nil
}

// RecordCardExpiryReminder writes a card's expiry reminder and its message
// in one transaction. The reminder's key (card, month, year) makes a second
// run, on this replica or another, write nothing: it waits on the first's
// insert and then skips.
func (db *DB) RecordCardExpiryReminder(ctx context.Context, pm billing.PaymentMethod, n billing.Notification) (bool, error) {
	written := false
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			INSERT INTO card_expiry_reminders (payment_method_id, exp_month, exp_year, customer_id)
			VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, pm.ID, pm.ExpMonth, pm.ExpYear, n.CustomerID)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		id, _, err := db.insertNotification(ctx, tx, n)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE card_expiry_reminders SET notification_id = $4
			WHERE payment_method_id = $1 AND exp_month = $2 AND exp_year = $3`, pm.ID, pm.ExpMonth, pm.ExpYear, id)
		written = err == nil
		return err
	})
	if err != nil {
		return false, fmt.Errorf("record expiry reminder of %s: %w", pm.ID, err)
	}
	return written, nil
}

// monthNumber counts months from year 0, so that a range of months is a
// range of integers whatever the database's time zone.
func monthNumber(t time.Time) int { return t.Year()*12 + int(t.Month()) - 1 }
