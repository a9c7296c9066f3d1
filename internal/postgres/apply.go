package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/storefront/storefront/internal/billing"
)

// Apply writes an effect, and the applied mark of its event, in one
// transaction. The event row is locked first, so concurrent deliveries of
// one event apply it once.
func (db *DB) Apply(ctx context.Context, eventID string, effect billing.Effect, reapply bool) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if eventID != "" {
			var applied bool
			err := tx.QueryRow(ctx, `SELECT applied_at IS NOT NULL FROM stripe_events WHERE id = $1 FOR UPDATE`, eventID).Scan(&applied)
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("event %s is not in the ledger: %w", eventID, billing.ErrNotFound)
			}
			if err != nil {
				return fmt.Errorf("lock event: %w", err)
			}
			if applied && !reapply {
				return billing.ErrAlreadyApplied
			}
		}
		batch := &pgx.Batch{}
		queueEffect(batch, effect)
		if eventID != "" {
			batch.Queue(`
				UPDATE stripe_events
				SET applied_at = now(), attempts = attempts + 1, last_error = NULL,
				    customer_id = coalesce($3, (SELECT id FROM customers WHERE stripe_customer_id = $2),
				        (SELECT customer_id FROM deleted_stripe_customers WHERE stripe_customer_id = $2), customer_id)
				WHERE id = $1`, eventID, effect.StripeCustomerID, nullID(effect.CustomerID))
		}
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return err
		}
		return db.writeChargeFollowUps(ctx, tx, effect.ChargeUpdates)
	})
	if errors.Is(err, billing.ErrAlreadyApplied) {
		return err
	}
	if err != nil {
		return fmt.Errorf("apply effect of event %q: %w", eventID, err)
	}
	return nil
}

// writeChargeFollowUps writes what each settled attempt sets going, once
// the update has settled it to its status (by this effect, or by Stripe's
// answer first: a step or message written twice is written once).
func (db *DB) writeChargeFollowUps(ctx context.Context, tx pgx.Tx, updates []billing.ChargeUpdate) error {
	for _, u := range updates {
		if u.FollowUp.Dunning == nil && u.FollowUp.Notify == nil {
			continue
		}
		var current string
		if err := tx.QueryRow(ctx, `SELECT status FROM charge_attempts WHERE id = $1`, u.AttemptID).Scan(&current); err != nil {
			return fmt.Errorf("status of attempt %d: %w", u.AttemptID, err)
		}
		if current != u.Status {
			continue
		}
		if err := db.writeFollowUp(ctx, tx, u.FollowUp); err != nil {
			return fmt.Errorf("follow-up of attempt %d: %w", u.AttemptID, err)
		}
	}
	return nil
}

// queueEffect queues an effect's writes in dependency order (customers
// before what refers to them), so that they travel in one round trip. Every
// statement is an upsert or a guarded update: running it twice changes nothing.
func queueEffect(b *pgx.Batch, e billing.Effect) {
	for _, id := range e.DeletedCustomers {
		queueDeletedCustomer(b, id)
	}
	for _, c := range e.Customers {
		queueEnsureCustomer(b, c)
	}
	for _, pm := range e.PaymentMethods {
		queuePaymentMethod(b, pm)
	}
	for _, id := range e.GonePaymentMethods {
		b.Queue(`UPDATE payment_methods SET status = 'detached', updated_at = now() WHERE id = $1`, id)
	}
	// A detached card cannot be charged, so it stops being anyone's default.
	if touched := touchedPaymentMethods(e); len(touched) > 0 {
		b.Queue(`UPDATE customers c SET default_payment_method_id = NULL, updated_at = now()
			FROM payment_methods pm WHERE pm.id = c.default_payment_method_id AND pm.status = 'detached'
			  AND pm.id = ANY($1)`, touched)
	}
	for _, si := range e.SetupIntents {
		queueSetupIntent(b, si)
	}
	for _, s := range e.CompletedSessions {
		queueCompletedSession(b, s)
	}
	for _, id := range e.ExpiredSessions {
		b.Queue(`UPDATE checkout_sessions SET status = 'expired' WHERE id = $1 AND status = 'open'`, id)
	}
	for _, u := range e.ChargeUpdates {
		queueChargeUpdate(b, u)
	}
	for _, r := range e.Recoveries {
		b.Queue(`
			UPDATE charge_attempts
			SET status = 'recovered', recovered_at = now(), recovered_payment_intent_id = nullif($3, ''),
			    recovery_session_id = $2, updated_at = now()
			WHERE id = $1 AND status IN ('declined', 'authentication_required')`, r.AttemptID, r.SessionID, r.PaymentIntentID)
		queueDuplicatePayment(b, r)
	}
	for _, r := range e.Refunds {
		queueRefund(b, r)
	}
	for _, c := range e.RefundedCharges {
		queueRefundedCharge(b, c)
	}
	for _, d := range e.Defaults {
		b.Queue(`
			UPDATE customers SET default_payment_method_id = $2, updated_at = now()
			WHERE stripe_customer_id = $1 AND EXISTS (SELECT 1 FROM payment_methods WHERE id = $2 AND customer_id = customers.id)
			  AND (NOT $3 OR (default_payment_method_id IS NULL
			                  AND NOT EXISTS (SELECT 1 FROM payment_methods WHERE customer_id = customers.id AND id <> $2)))`,
			d.StripeCustomerID, d.PaymentMethodID, d.OnlyIfFirst)
	}
}

// queueDeletedCustomer retires a Stripe Customer deleted on Stripe: its id
// is remembered as gone, its cards can no longer be charged, and the
// customer loses the link (and gains a generation), so that the next Save
// card makes a new Stripe Customer.
func queueDeletedCustomer(b *pgx.Batch, stripeID string) {
	b.Queue(`
		INSERT INTO deleted_stripe_customers (stripe_customer_id, customer_id)
		VALUES ($1, (SELECT id FROM customers WHERE stripe_customer_id = $1))
		ON CONFLICT (stripe_customer_id) DO NOTHING`, stripeID)
	b.Queue(`
		UPDATE payment_methods SET status = 'detached', updated_at = now()
		WHERE status = 'active' AND customer_id = (SELECT id FROM customers WHERE stripe_customer_id = $1)`, stripeID)
	b.Queue(`
		UPDATE customers SET stripe_customer_id = NULL, stripe_customer_generation = stripe_customer_generation + 1,
		    default_payment_method_id = NULL, updated_at = now()
		WHERE stripe_customer_id = $1`, stripeID)
}

func touchedPaymentMethods(e billing.Effect) []string {
	ids := slices.Clone(e.GonePaymentMethods)
	for _, pm := range e.PaymentMethods {
		ids = append(ids, pm.ID)
	}
	return ids
}

// queueEnsureCustomer makes a Stripe Customer known locally: linked to the
// row of its email if that row has no Stripe Customer yet, else a row of its
// own (without the email, which another Stripe Customer already holds). A
// deleted Stripe Customer is never linked again, whatever a late event says.
func queueEnsureCustomer(b *pgx.Batch, c billing.StripeCustomer) {
	if c.ID == "" {
		return
	}
	b.Queue(`
		WITH linked AS (
			UPDATE customers SET stripe_customer_id = $1, updated_at = now()
			WHERE $2 <> '' AND email = $2 AND stripe_customer_id IS NULL
			  AND NOT EXISTS (SELECT 1 FROM customers WHERE stripe_customer_id = $1)
			  AND NOT EXISTS (SELECT 1 FROM deleted_stripe_customers WHERE stripe_customer_id = $1)
			RETURNING id
		)
		INSERT INTO customers (email, stripe_customer_id)
		SELECT CASE WHEN $2 = '' OR EXISTS (SELECT 1 FROM customers WHERE email = $2) THEN NULL ELSE $2 END, $1
		WHERE NOT EXISTS (SELECT 1 FROM linked)
		  AND NOT EXISTS (SELECT 1 FROM customers WHERE stripe_customer_id = $1)
		  AND NOT EXISTS (SELECT 1 FROM deleted_stripe_customers WHERE stripe_customer_id = $1)
		ON CONFLICT DO NOTHING`, c.ID, c.Email)
}

// queuePaymentMethod writes a payment method read from Stripe unless the row
// holds a newer read. A detached one with no customer only updates a row we
// have: a card never saved here is not worth a row.
func queuePaymentMethod(b *pgx.Batch, pm billing.PaymentMethod) {
	if pm.StripeCustomerID == "" {
		b.Queue(`
			UPDATE payment_methods SET status = $2, brand = coalesce($3, brand), last4 = coalesce($4, last4),
				exp_month = coalesce($5, exp_month), exp_year = coalesce($6, exp_year), synced_at = $7, updated_at = now()
			WHERE id = $1 AND synced_at <= $7`,
			pm.ID, pm.Status, nullString(pm.Brand), nullString(pm.Last4), nullInt(pm.ExpMonth), nullInt(pm.ExpYear), pm.SyncedAt)
		return
	}
	b.Queue(`
		INSERT INTO payment_methods (id, customer_id, type, brand, last4, exp_month, exp_year, fingerprint, status, stripe_created_at, synced_at)
		VALUES ($1, (SELECT id FROM customers WHERE stripe_customer_id = $2), $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (id) DO UPDATE SET
			customer_id = coalesce(excluded.customer_id, payment_methods.customer_id),
			brand = excluded.brand, last4 = excluded.last4,
			exp_month = excluded.exp_month, exp_year = excluded.exp_year,
			fingerprint = excluded.fingerprint, status = excluded.status,
			synced_at = excluded.synced_at, updated_at = now()
		WHERE payment_methods.synced_at <= excluded.synced_at`,
		pm.ID, pm.StripeCustomerID, pm.Type, nullString(pm.Brand), nullString(pm.Last4),
		nullInt(pm.ExpMonth), nullInt(pm.ExpYear), nullString(pm.Fingerprint), pm.Status, pm.CreatedAt, pm.SyncedAt)
}

func queueSetupIntent(b *pgx.Batch, si billing.SetupIntent) {
	b.Queue(`
		INSERT INTO setup_intents (id, customer_id, payment_method_id, status, last_error_code, synced_at)
		VALUES ($1, (SELECT id FROM customers WHERE stripe_customer_id = $2), $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET
			customer_id = coalesce(excluded.customer_id, setup_intents.customer_id),
			payment_method_id = coalesce(excluded.payment_method_id, setup_intents.payment_method_id),
			status = excluded.status, last_error_code = excluded.last_error_code,
			synced_at = excluded.synced_at, updated_at = now()
		WHERE setup_intents.synced_at <= excluded.synced_at`,
		si.ID, si.StripeCustomerID, nullString(si.PaymentMethodID), si.Status, nullString(si.LastErrorCode), si.SyncedAt)
}

// queueCompletedSession records a session as complete, creating its row when
// the session was made outside this store (the webhook still reports it).
func queueCompletedSession(b *pgx.Batch, s billing.CompletedSession) {
	b.Queue(`
		INSERT INTO checkout_sessions (id, customer_id, mode, status, currency, setup_intent_id, payment_intent_id, completed_at)
		VALUES ($1, (SELECT id FROM customers WHERE stripe_customer_id = $2), $3, 'complete', $4, $5, $6, now())
		ON CONFLICT (id) DO UPDATE SET
			status = 'complete',
			setup_intent_id = coalesce(checkout_sessions.setup_intent_id, excluded.setup_intent_id),
			payment_intent_id = coalesce(checkout_sessions.payment_intent_id, excluded.payment_intent_id),
			customer_id = coalesce(checkout_sessions.customer_id, excluded.customer_id),
			completed_at = coalesce(checkout_sessions.completed_at, excluded.completed_at)`,
		s.ID, s.StripeCustomerID, s.Mode, s.Currency, nullString(s.SetupIntentID), nullString(s.PaymentIntentID))
}
