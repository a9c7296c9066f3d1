package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storefront/storefront/internal/billing"
)

// paymentMethodColumns are read from payment_methods pm joined with
// paymentMethodFailure.
const paymentMethodColumns = `pm.id, coalesce(pm.customer_id, 0), pm.type, coalesce(pm.brand, ''), coalesce(pm.last4, ''),
	coalesce(pm.exp_month, 0), coalesce(pm.exp_year, 0), coalesce(pm.fingerprint, ''), pm.status,
	pm.stripe_created_at, pm.saved_at, pm.synced_at, pm.failing, coalesce(lf.failure_code, ''), coalesce(lf.decline_code, '')`

// paymentMethodFailure is the latest charge of a failing card, for its
// codes; a card that is not failing skips the lookup.
const paymentMethodFailure = ` LEFT JOIN LATERAL (SELECT ca.failure_code, ca.decline_code FROM charge_attempts ca
	WHERE pm.failing AND ca.payment_method_id = pm.id ORDER BY ca.created_at DESC, ca.id DESC LIMIT 1) lf ON true `

func paymentMethodFields(pm *billing.PaymentMethod) []any {
	return []any{&pm.ID, &pm.CustomerID, &pm.Type, &pm.Brand, &pm.Last4, &pm.ExpMonth, &pm.ExpYear,
		&pm.Fingerprint, &pm.Status, &pm.CreatedAt, &pm.SavedAt, &pm.SyncedAt, &pm.Failing, &pm.LastFailureCode, &pm.LastDeclineCode}
}

// scanSavedPaymentMethod reads paymentMethodColumns followed by the
// customer's email and Stripe id.
func scanSavedPaymentMethod(row pgx.CollectableRow) (billing.SavedPaymentMethod, error) {
	var s billing.SavedPaymentMethod
	err := row.Scan(append(paymentMethodFields(&s.PaymentMethod), &s.CustomerEmail, &s.StripeCustomerID)...)
	return s, err
}

// SessionPaymentMethod returns the payment method a completed setup session saved.
func (db *DB) SessionPaymentMethod(ctx context.Context, sessionID string) (billing.PaymentMethod, error) {
	var pm billing.PaymentMethod
	err := db.pool.QueryRow(ctx, `
		SELECT `+paymentMethodColumns+`
		FROM checkout_sessions cs
		JOIN setup_intents si ON si.id = cs.setup_intent_id
		JOIN payment_methods pm ON pm.id = si.payment_method_id`+paymentMethodFailure+`
		WHERE cs.id = $1`, sessionID).Scan(paymentMethodFields(&pm)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return pm, fmt.Errorf("payment method of session %s: %w", sessionID, billing.ErrNotFound)
	}
	if err != nil {
		return pm, fmt.Errorf("payment method of session %s: %w", sessionID, err)
	}
	return pm, nil
}

// SavedPaymentMethod returns one card with its customer.
func (db *DB) SavedPaymentMethod(ctx context.Context, id string) (billing.SavedPaymentMethod, error) {
	var s billing.SavedPaymentMethod
	err := db.pool.QueryRow(ctx, `
		SELECT `+paymentMethodColumns+`, coalesce(c.email, ''), coalesce(c.stripe_customer_id, '')
		FROM payment_methods pm LEFT JOIN customers c ON c.id = pm.customer_id`+paymentMethodFailure+`
		WHERE pm.id = $1`, id).Scan(append(paymentMethodFields(&s.PaymentMethod), &s.CustomerEmail, &s.StripeCustomerID)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, fmt.Errorf("payment method %s: %w", id, billing.ErrNotFound)
	}
	if err != nil {
		return s, fmt.Errorf("payment method %s: %w", id, err)
	}
	return s, nil
}

// CustomerPaymentMethods returns a customer's cards, newest first.
func (db *DB) CustomerPaymentMethods(ctx context.Context, customerID int64) ([]billing.PaymentMethod, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT `+paymentMethodColumns+` FROM payment_methods pm`+paymentMethodFailure+`
		WHERE pm.customer_id = $1 ORDER BY pm.saved_at DESC, pm.id DESC`, customerID)
	if err != nil {
		return nil, fmt.Errorf("cards of customer %d: %w", customerID, err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (billing.PaymentMethod, error) {
		var pm billing.PaymentMethod
		return pm, row.Scan(paymentMethodFields(&pm)...)
	})
	if err != nil {
		return nil, fmt.Errorf("cards of customer %d: %w", customerID, err)
	}
	return list, nil
}

// ListPaymentMethods returns saved payment methods with their customer's
// email, newest first, one keyset page at a time, narrowed by a search (a
// last 4, or the start of an email) and a filter. Each narrowing has an
// index that keeps pages fast at any depth.
func (db *DB) ListPaymentMethods(ctx context.Context, q billing.ListQuery) ([]billing.SavedPaymentMethod, error) {
	before := q.Before
	if before.IsZero() {
		before = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	args := queryArgs{before, q.BeforeID, q.Limit}
	where := []string{"(pm.saved_at, pm.id) < ($1, $2)"}
	switch {
	case q.Search == "":
	case billing.SearchIsLastFour(q.Search):
		where = append(where, "pm.last4 = "+args.add(q.Search))
	default:
		// An explicit byte-wise range, not just LIKE: a prepared statement's
		// generic plan cannot see that a LIKE parameter is a prefix, and
		// would walk every card instead of the email index.
		where = append(where, "c.email ~>=~ "+args.add(q.Search)+" AND c.email ~<~ "+args.add(q.Search+"\U0010FFFF")+
			" AND c.email LIKE "+args.add(escapeLike(q.Search)+"%"))
	}
	switch q.Filter {
	case billing.FilterExpiring:
		today := q.Now.UTC().Truncate(24 * time.Hour)
		where = append(where, "pm.status = 'active' AND pm.expires_on BETWEEN "+args.add(today)+" AND "+args.add(today.Add(billing.ExpiringWithin)))
	case billing.FilterDetached:
		where = append(where, "pm.status = 'detached'")
	case billing.FilterFailing:
		where = append(where, "pm.failing")
	}
	rows, err := db.pool.Query(ctx, `
		SELECT `+paymentMethodColumns+`, coalesce(c.email, ''), coalesce(c.stripe_customer_id, '')
		FROM payment_methods pm
		LEFT JOIN customers c ON c.id = pm.customer_id`+paymentMethodFailure+`
		WHERE `+strings.Join(where, " AND ")+`
		ORDER BY pm.saved_at DESC, pm.id DESC
		LIMIT $3`, args...)
	if err != nil {
		return nil, fmt.Errorf("list payment methods: %w", err)
	}
	list, err := pgx.CollectRows(rows, scanSavedPaymentMethod)
	if err != nil {
		return nil, fmt.Errorf("list payment methods: %w", err)
	}
	return list, nil
}

// escapeLike makes a search literal in a LIKE pattern.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Totals reads the counters that triggers keep (migrations 004 and 007).
func (db *DB) Totals(ctx context.Context, now time.Time) (billing.Totals, error) {
	var t billing.Totals
	today := now.UTC().Truncate(24 * time.Hour)
	err := db.pool.QueryRow(ctx, `
		SELECT coalesce(sum(n) FILTER (WHERE name = 'customers'), 0),
		       coalesce(sum(n) FILTER (WHERE name = 'active'), 0),
		       coalesce(sum(n) FILTER (WHERE name = 'detached'), 0),
		       coalesce(sum(n) FILTER (WHERE name = 'failing'), 0),
		       (SELECT coalesce(sum(n), 0) FROM admin_expiry_counters WHERE expires_on BETWEEN $1 AND $2)
		FROM admin_counters`, today, today.Add(billing.ExpiringWithin)).
		Scan(&t.Customers, &t.Active, &t.Detached, &t.Failing, &t.Expiring)
	if err != nil {
		return t, fmt.Errorf("totals: %w", err)
	}
	return t, nil
}

func nullInt(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}
