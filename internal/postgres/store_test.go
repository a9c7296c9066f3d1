package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/postgres"
	"github.com/storefront/storefront/migrations"
)

func count(t *testing.T, db *postgres.DB, table string) int {
	t.Helper()
	var n int
	if err := db.Pool().QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMigrateIsIdempotentUnderConcurrency(t *testing.T) {
	db := pg.NewDB(t)
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 5 {
		wg.Go(func() {
			applied, err := db.Migrate(context.Background(), migrations.FS)
			if err == nil && len(applied) != 0 {
				err = fmt.Errorf("applied %v to a migrated database", applied)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// TestEnsureStripeCustomerConvergesUnderConcurrency: concurrent first
// clicks each ask Stripe with the key derived from the email, which Stripe
// answers with one Customer (the fake does as Stripe does), and all of them
// end on one row linked to it.
func TestEnsureStripeCustomerConvergesUnderConcurrency(t *testing.T) {
	db := pg.NewDB(t)
	var mu sync.Mutex
	keys := map[string]bool{}
	create := func(ctx context.Context, email, key string) (string, error) {
		mu.Lock()
		keys[key] = true
		mu.Unlock()
		return "cus_Concurrent1", nil
	}
	var wg sync.WaitGroup
	ids := make(chan string, 20)
	for range 20 {
		wg.Go(func() {
			c, err := db.EnsureStripeCustomer(context.Background(), "ann@example.com", create)
			if err != nil {
				t.Error(err)
				return
			}
			ids <- c.StripeID
		})
	}
	wg.Wait()
	close(ids)
	if len(keys) != 1 || !keys[billing.CustomerIdempotencyKey("ann@example.com", 0)] {
		t.Errorf("idempotency keys sent: %v, want only CustomerIdempotencyKey(email, 0)", keys)
	}
	for id := range ids {
		if id != "cus_Concurrent1" {
			t.Errorf("customer got Stripe id %q", id)
		}
	}
	if n := count(t, db, "customers"); n != 1 {
		t.Errorf("%d customers, want 1", n)
	}
}

// TestEnsureStripeCustomerHoldsNoConnectionDuringTheCall: a slow Stripe
// must not hold a row lock or a pool connection, or a few slow calls starve
// the webhook of connections.
func TestEnsureStripeCustomerHoldsNoConnectionDuringTheCall(t *testing.T) {
	db := pg.NewDB(t)
	held := int32(-1)
	_, err := db.EnsureStripeCustomer(context.Background(), "slow@example.com", func(ctx context.Context, email, key string) (string, error) {
		held = db.Pool().Stat().AcquiredConns()
		return "cus_Slow1", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if held != 0 {
		t.Errorf("%d pool connections held during the Stripe call, want 0", held)
	}
}

func TestEnsureStripeCustomerLeavesNothingWhenStripeFails(t *testing.T) {
	db := pg.NewDB(t)
	ctx := context.Background()
	var keys []string
	failing := func(ctx context.Context, email, key string) (string, error) {
		keys = append(keys, key)
		return "", errors.New("network down")
	}
	if _, err := db.EnsureStripeCustomer(ctx, "bo@example.com", failing); err == nil {
		t.Fatal("want the create error")
	}
	if n := count(t, db, "customers"); n != 0 {
		t.Errorf("%d customers left after a failed create, want 0", n)
	}
	c, err := db.EnsureStripeCustomer(ctx, "bo@example.com", func(ctx context.Context, email, key string) (string, error) {
		keys = append(keys, key)
		return "cus_Retry1", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0] != keys[1] || keys[0] != billing.CustomerIdempotencyKey("bo@example.com", 0) {
		t.Errorf("idempotency keys across the retry: %q, want CustomerIdempotencyKey twice", keys)
	}
	if c.StripeID != "cus_Retry1" {
		t.Errorf("StripeID = %q", c.StripeID)
	}
}

func seedSession(t *testing.T, db *postgres.DB, email, sessionID string) billing.Customer {
	t.Helper()
	ctx := context.Background()
	c, err := db.EnsureStripeCustomer(ctx, email, func(context.Context, string, string) (string, error) {
		return "cus_" + sessionID[len(sessionID)-6:], nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.CreateCheckoutSession(ctx, billing.CheckoutSession{ID: sessionID, CustomerID: c.ID, Mode: billing.ModeSetup, Status: billing.SessionOpen, Currency: "usd", URL: "https://checkout.example/" + sessionID})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func setupEffect(c billing.Customer, sessionID string, syncedAt time.Time) billing.Effect {
	return billing.Effect{
		Customers: []billing.StripeCustomer{{ID: c.StripeID, Email: c.Email}},
		PaymentMethods: []billing.PaymentMethod{{
			ID: "pm_123", StripeCustomerID: c.StripeID, Type: "card", Brand: "visa", Last4: "4242", ExpMonth: 12, ExpYear: 2034,
			Fingerprint: "fp123", Status: billing.PaymentMethodActive, CreatedAt: time.Unix(1700000000, 0), SyncedAt: syncedAt,
		}},
		SetupIntents: []billing.SetupIntent{{
			ID: "seti_123", StripeCustomerID: c.StripeID, PaymentMethodID: "pm_123", Status: billing.SetupIntentSucceeded, SyncedAt: syncedAt,
		}},
		CompletedSessions: []billing.CompletedSession{{
			ID: sessionID, Mode: billing.ModeSetup, Currency: "usd", StripeCustomerID: c.StripeID, SetupIntentID: "seti_123",
		}},
	}
}

func TestApplyIsIdempotentUnderConcurrency(t *testing.T) {
	db := pg.NewDB(t)
	ctx := context.Background()
	c := seedSession(t, db, "cy@example.com", "cs_test_abc123")
	effect := setupEffect(c, "cs_test_abc123", time.Now())
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if err := db.Apply(ctx, "", effect, false); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for table, want := range map[string]int{"payment_methods": 1, "setup_intents": 1, "checkout_sessions": 1, "customers": 1} {
		if n := count(t, db, table); n != want {
			t.Errorf("%s: %d rows, want %d", table, n, want)
		}
	}
	pm, err := db.SessionPaymentMethod(ctx, "cs_test_abc123")
	if err != nil {
		t.Fatal(err)
	}
	if pm.ID != "pm_123" || pm.Last4 != "4242" || pm.Brand != "visa" || pm.ExpMonth != 12 || pm.ExpYear != 2034 || pm.CustomerID != c.ID || pm.Status != billing.PaymentMethodActive {
		t.Errorf("payment method = %+v", pm)
	}
	s, err := db.CheckoutSession(ctx, "cs_test_abc123")
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != billing.SessionComplete || s.SetupIntentID != "seti_123" || s.CompletedAt.IsZero() {
		t.Errorf("session = %+v", s)
	}
}

func TestApplyKeepsTheNewerRead(t *testing.T) {
	db := pg.NewDB(t)
	ctx := context.Background()
	c := seedSession(t, db, "wm@example.com", "cs_test_water1")
	now := time.Now()
	newer := setupEffect(c, "cs_test_water1", now)
	newer.PaymentMethods[0].ExpYear = 2036 // the card was updated
	older := setupEffect(c, "cs_test_water1", now.Add(-time.Second))
	for _, e := range []billing.Effect{newer, older} {
		if err := db.Apply(ctx, "", e, false); err != nil {
			t.Fatal(err)
		}
	}
	pm, err := db.SessionPaymentMethod(ctx, "cs_test_water1")
	if err != nil {
		t.Fatal(err)
	}
	if pm.ExpYear != 2036 {
		t.Errorf("an older read overwrote a newer one: exp year %d, want 2036", pm.ExpYear)
	}
}

func TestApplyRollsBackAsAWhole(t *testing.T) {
	db := pg.NewDB(t)
	ctx := context.Background()
	c := seedSession(t, db, "di@example.com", "cs_test_rollback")
	effect := setupEffect(c, "cs_test_rollback", time.Now())
	effect.SetupIntents[0].Status = "not-a-status" // the CHECK constraint rejects it after the payment method is written
	if err := db.Apply(ctx, "", effect, false); err == nil {
		t.Fatal("want a constraint error")
	}
	if n := count(t, db, "payment_methods"); n != 0 {
		t.Errorf("%d payment methods left behind by a failed transaction", n)
	}
	s, err := db.CheckoutSession(ctx, "cs_test_rollback")
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != billing.SessionOpen {
		t.Errorf("session status %q after a failed apply", s.Status)
	}
}

func TestApplyMarksTheEventOnce(t *testing.T) {
	db := pg.NewDB(t)
	ctx := context.Background()
	c := seedSession(t, db, "ev@example.com", "cs_test_event1")
	e := billing.Event{ID: "evt_1", Type: billing.EventCheckoutSessionCompleted, ObjectID: "cs_test_event1", Created: time.Now(), Payload: []byte(`{"id":"evt_1"}`)}
	for range 3 {
		applied, err := db.RecordEvent(ctx, e)
		if err != nil || applied {
			t.Fatalf("RecordEvent before apply = %v, %v", applied, err)
		}
	}
	effect := setupEffect(c, "cs_test_event1", time.Now())
	effect.StripeCustomerID = c.StripeID
	var wg sync.WaitGroup
	var applied, skipped atomic.Int32
	for range 10 {
		wg.Go(func() {
			switch err := db.Apply(ctx, "evt_1", effect, false); {
			case err == nil:
				applied.Add(1)
			case errors.Is(err, billing.ErrAlreadyApplied):
				skipped.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if applied.Load() != 1 || skipped.Load() != 9 {
		t.Errorf("applied %d times, skipped %d; want 1 and 9", applied.Load(), skipped.Load())
	}
	stored, err := db.StoredEvent(ctx, "evt_1")
	if err != nil {
		t.Fatal(err)
	}
	if stored.AppliedAt.IsZero() || stored.Attempts != 1 || string(stored.Payload) != `{"id":"evt_1"}` {
		t.Errorf("stored event = %+v", stored)
	}
	if again, err := db.RecordEvent(ctx, e); err != nil || !again {
		t.Errorf("RecordEvent after apply = %v, %v; want applied", again, err)
	}
	if n := count(t, db, "stripe_events"); n != 1 {
		t.Errorf("%d ledger rows, want 1", n)
	}
}

func TestEnsureCustomerLinksOrAddsStripeCustomers(t *testing.T) {
	db := pg.NewDB(t)
	ctx := context.Background()
	if _, err := db.Pool().Exec(ctx, `INSERT INTO customers (email) VALUES ('solo@example.com'), ('taken@example.com')`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool().Exec(ctx, `UPDATE customers SET stripe_customer_id = 'cus_Taken' WHERE email = 'taken@example.com'`); err != nil {
		t.Fatal(err)
	}
	effect := billing.Effect{Customers: []billing.StripeCustomer{
		{ID: "cus_Solo", Email: "solo@example.com"},   // links the existing row
		{ID: "cus_Other", Email: "taken@example.com"}, // email held by another Stripe Customer: a row without email
		{ID: "cus_NoMail"},                            // no email at all
		{ID: "cus_Solo", Email: "solo@example.com"},   // repeated: no change
	}}
	if err := db.Apply(ctx, "", effect, false); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Pool().Query(ctx, `SELECT coalesce(email, '-') || ' ' || coalesce(stripe_customer_id, '-') FROM customers ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := "[solo@example.com cus_Solo taken@example.com cus_Taken - cus_Other - cus_NoMail]"
	if fmt.Sprint(got) != want {
		t.Errorf("customers %v, want %s", got, want)
	}
}

func TestConstraintsRejectInconsistentRows(t *testing.T) {
	db := pg.NewDB(t)
	ctx := context.Background()
	cases := map[string]string{
		"upper-case email":             `INSERT INTO customers (email) VALUES ('Ann@Example.com')`,
		"duplicate email":              `INSERT INTO customers (email) VALUES ('x@example.com'), ('x@example.com')`,
		"card without last4":           `INSERT INTO payment_methods (id, type, brand, exp_month, exp_year, status, customer_id, stripe_created_at) VALUES ('pm_1', 'card', 'visa', 1, 2030, 'detached', NULL, now())`,
		"active without customer":      `INSERT INTO payment_methods (id, type, status, stripe_created_at) VALUES ('pm_2', 'sepa_debit', 'active', now())`,
		"bad expiry month":             `INSERT INTO payment_methods (id, type, brand, last4, exp_month, exp_year, status, stripe_created_at) VALUES ('pm_3', 'card', 'visa', '4242', 13, 2030, 'detached', now())`,
		"complete session, no intent":  `INSERT INTO checkout_sessions (id, mode, status, currency, completed_at) VALUES ('cs_test_1', 'setup', 'complete', 'usd', now())`,
		"open session with completion": `INSERT INTO checkout_sessions (id, mode, status, currency, completed_at) VALUES ('cs_test_2', 'setup', 'open', 'usd', now())`,
		"malformed session id":         `INSERT INTO checkout_sessions (id, mode, currency) VALUES ('x', 'setup', 'usd')`,
	}
	for name, sql := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := db.Pool().Exec(ctx, sql); err == nil {
				t.Errorf("accepted: %s", sql)
			}
		})
	}
}

func TestListPaymentMethodsPagesNewestFirst(t *testing.T) {
	db := pg.NewDB(t)
	ctx := context.Background()
	c := seedSession(t, db, "ed@example.com", "cs_test_list01")
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		_, err := db.Pool().Exec(ctx, `INSERT INTO payment_methods (id, customer_id, type, brand, last4, exp_month, exp_year, status, stripe_created_at, saved_at)
			VALUES ($1, $2, 'card', 'visa', '4242', 1, 2030, 'active', now(), $3)`,
			fmt.Sprintf("pm_%d", i), c.ID, base.Add(time.Duration(i%3)*time.Hour)) // ties on saved_at
		if err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	q := billing.ListQuery{Limit: 2}
	for {
		page, err := db.ListPaymentMethods(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, pm := range page {
			seen = append(seen, pm.ID)
			if pm.CustomerEmail != "ed@example.com" {
				t.Errorf("email %q", pm.CustomerEmail)
			}
		}
		if len(page) < q.Limit {
			break
		}
		q.Before, q.BeforeID = page[len(page)-1].SavedAt, page[len(page)-1].ID
	}
	want := []string{"pm_2", "pm_4", "pm_1", "pm_3", "pm_0"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("order %v, want %v", seen, want)
	}
}

func TestOpenCreatesMissingDatabase(t *testing.T) {
	existing, url := pg.NewDBWithURL(t)
	ctx := context.Background()
	base, query, _ := strings.Cut(url, "?")
	name := base[strings.LastIndex(base, "/")+1:] + "_fresh"
	t.Cleanup(func() {
		existing.Pool().Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") //nolint:errcheck
	})
	db, err := postgres.Open(ctx, base[:strings.LastIndex(base, "/")+1]+name+"?"+query)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var current string
	if err := db.Pool().QueryRow(ctx, "SELECT current_database()").Scan(&current); err != nil {
		t.Fatal(err)
	}
	if current != name {
		t.Errorf("connected to %q, want %q", current, name)
	}
}

// TestTotalsMatchTheRows holds the trigger-kept counters to a plain count
// after inserts, status changes, new expiry dates, failing and recovered
// charges and deletes.
func TestTotalsMatchTheRows(t *testing.T) {
	db := pg.NewDB(t)
	ctx := context.Background()
	steps := []string{
		`INSERT INTO customers (email, stripe_customer_id) SELECT 'c' || i || '@example.com', 'cus_t' || i FROM generate_series(1, 5) i`,
		`INSERT INTO payment_methods (id, customer_id, type, brand, last4, exp_month, exp_year, status, stripe_created_at)
		 SELECT 'pm_t' || i, (SELECT id FROM customers ORDER BY id LIMIT 1 OFFSET i % 5), 'card', 'visa', '4242', 1 + i % 12, 2027, 'active', now()
		 FROM generate_series(1, 12) i`,
		`UPDATE payment_methods SET status = 'detached' WHERE id IN ('pm_t1', 'pm_t2')`,
		`INSERT INTO charge_attempts (customer_id, payment_method_id, amount, currency, idempotency_key, status)
		 SELECT customer_id, id, 100, 'usd', 'key-for-' || id || '-0000000', 'declined' FROM payment_methods WHERE id IN ('pm_t3', 'pm_t4', 'pm_t5')`,
		`UPDATE charge_attempts SET status = 'recovered', recovered_at = now() WHERE payment_method_id = 'pm_t3'`,
		`UPDATE payment_methods SET status = 'active' WHERE id = 'pm_t1'`,
		`UPDATE payment_methods SET exp_month = 4 WHERE id IN ('pm_t6', 'pm_t7')`,
		`UPDATE payment_methods SET exp_month = 3, status = 'detached' WHERE id = 'pm_t8'`,
		`UPDATE payment_methods SET exp_month = 3 WHERE id = 'pm_t2'`,
		`DELETE FROM charge_attempts WHERE payment_method_id = 'pm_t12'`,
		`DELETE FROM payment_methods WHERE id = 'pm_t12'`,
		`DELETE FROM customers WHERE id NOT IN (SELECT customer_id FROM payment_methods WHERE customer_id IS NOT NULL)`,
	}
	sawExpiring := false
	for _, step := range steps {
		if _, err := db.Pool().Exec(ctx, step); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		// March and April 2027 are within 60 days of this day.
		now := time.Date(2027, 3, 10, 12, 0, 0, 0, time.UTC)
		got, err := db.Totals(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		var want billing.Totals
		err = db.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM customers),
			count(*) FILTER (WHERE status = 'active'), count(*) FILTER (WHERE status = 'detached'),
			(SELECT count(*) FROM payment_methods pm WHERE (SELECT ca.status FROM charge_attempts ca WHERE ca.payment_method_id = pm.id
			  ORDER BY ca.created_at DESC, ca.id DESC LIMIT 1) IN ('declined', 'authentication_required')),
			count(*) FILTER (WHERE status = 'active' AND expires_on BETWEEN $1 AND $2)
			FROM payment_methods`, now.Truncate(24*time.Hour), now.Truncate(24*time.Hour).Add(billing.ExpiringWithin)).
			Scan(&want.Customers, &want.Active, &want.Detached, &want.Failing, &want.Expiring)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("after %.60s...: totals %+v, counted %+v", step, got, want)
		}
		sawExpiring = sawExpiring || want.Expiring > 0
	}
	if !sawExpiring {
		t.Error("no step had a card expiring: the expiring total went untested")
	}
}

func TestMirrorTellsEachKindApart(t *testing.T) {
	db := pg.NewDB(t)
	ctx := context.Background()
	c := seedSession(t, db, "mi@example.com", "cs_test_mirror1")
	if _, err := db.Mirror(ctx, "cs_test_mirror1"); err != nil {
		t.Fatal(err)
	}
	syncedAt := time.Now().Truncate(time.Microsecond)
	if err := db.Apply(ctx, "", setupEffect(c, "cs_test_mirror1", syncedAt), false); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]billing.Mirror{
		"pm_123":          {Kind: billing.MirrorPaymentMethod, Status: billing.PaymentMethodActive, CustomerID: c.ID, SyncedAt: syncedAt},
		"seti_123":        {Kind: billing.MirrorSetupIntent, Status: billing.SetupIntentSucceeded, CustomerID: c.ID, SyncedAt: syncedAt},
		"cs_test_mirror1": {Kind: billing.MirrorCheckoutSession, Status: billing.SessionComplete, CustomerID: c.ID},
	} {
		got, err := db.Mirror(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Kind != want.Kind || got.Status != want.Status || got.CustomerID != want.CustomerID || !got.SyncedAt.Equal(want.SyncedAt) {
			t.Errorf("%s: %+v, want %+v", id, got, want)
		}
	}
	if _, err := db.Mirror(ctx, "pm_unknown"); !errors.Is(err, billing.ErrNotFound) {
		t.Errorf("unknown id: %v, want ErrNotFound", err)
	}
}
