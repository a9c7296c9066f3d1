package postgres_test

import (
	"context"
	"io/fs"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/postgres"
	"github.com/storefront/storefront/migrations"
)

// processingAttempt makes a customer with a card and a processing charge attempt.
func processingAttempt(t *testing.T, db *postgres.DB, email string) billing.ChargeAttempt {
	t.Helper()
	ctx := context.Background()
	var customerID int64
	if err := db.Pool().QueryRow(ctx, `INSERT INTO customers (email, stripe_customer_id) VALUES ($1, 'cus_'||md5($1)) RETURNING id`, email).Scan(&customerID); err != nil {
		t.Fatal(err)
	}
	pm := "pm_" + strings.NewReplacer("@", "", ".", "").Replace(email)
	if _, err := db.Pool().Exec(ctx, `INSERT INTO payment_methods (id, customer_id, type, brand, last4, exp_month, exp_year, status, stripe_created_at)
		VALUES ($1, $2, 'card', 'visa', '0341', 1, 2030, 'active', now())`, pm, customerID); err != nil {
		t.Fatal(err)
	}
	a, _, err := db.CreateChargeAttempt(ctx, billing.ChargeAttempt{CustomerID: customerID, PaymentMethodID: pm,
		Money: billing.Money{Amount: 1000, Currency: "usd"}, IdempotencyKey: "key-" + pm + "-0000000000"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// declineNotice is what a declined attempt sets going: its customer's message.
func declineNotice(a billing.ChargeAttempt) billing.ChargeFollowUp {
	return billing.ChargeFollowUp{Notify: &billing.Notification{CustomerID: a.CustomerID, ChargeAttemptID: a.ID,
		Kind: billing.NotificationPaymentFailed, Recipient: a.CustomerEmail,
		Subject: "Your payment failed", Body: "Pay here", Link: "https://shop.example.com/pay/x"}}
}

// sendJobsOf lists the notification ids of the send jobs, in the email queue.
func sendJobsOf(t *testing.T, db *postgres.DB) []int64 {
	t.Helper()
	rows, err := db.Pool().Query(context.Background(), `SELECT (args->>'notification_id')::bigint FROM river_job
		WHERE kind = 'send_notification' AND queue = 'email' AND max_attempts = $1 ORDER BY id`, billing.EmailMaxAttempts)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// TestNotificationAndItsJobAreOneWrite: a declined charge's message and its
// send job are written together, once however often the outcome is
// recorded, and not at all when the transaction fails.
func TestNotificationAndItsJobAreOneWrite(t *testing.T) {
	db := pg.NewDB(t)
	ctx := context.Background()
	declined := billing.ChargeOutcome{PaymentIntentID: "pi_1", Status: "requires_payment_method", Code: "card_declined"}

	a := processingAttempt(t, db, "ann@example.com")
	for range 2 { // the charge's answer, then the webhook's
		if _, err := db.FinishChargeAttempt(ctx, a.ID, declined, billing.ChargeDeclined, declineNotice(a)); err != nil {
			t.Fatal(err)
		}
	}
	list, err := db.Notifications(ctx, billing.OutboxQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if jobs := sendJobsOf(t, db); len(list) != 1 || len(jobs) != 1 || jobs[0] != list[0].ID {
		t.Fatalf("%d notifications and send jobs for %v; want one of each, for the same message", len(list), jobs)
	}

	// A transaction that fails after the message is written leaves nothing.
	if _, err := db.Pool().Exec(ctx, `
		CREATE FUNCTION refuse_jobs() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no jobs today'; END $$;
		CREATE TRIGGER refuse_jobs BEFORE INSERT ON river_job FOR EACH ROW EXECUTE FUNCTION refuse_jobs();`); err != nil {
		t.Fatal(err)
	}
	b := processingAttempt(t, db, "bob@example.com")
	declined.PaymentIntentID = "pi_2"
	if _, err := db.FinishChargeAttempt(ctx, b.ID, declined, billing.ChargeDeclined, declineNotice(b)); err == nil || !strings.Contains(err.Error(), "no jobs today") {
		t.Fatalf("FinishChargeAttempt with the job refused: %v", err)
	}
	if list, _ := db.Notifications(ctx, billing.OutboxQuery{Limit: 10}); len(list) != 1 {
		t.Errorf("%d notifications after the failed transaction, want the first one only", len(list))
	}
	if got, _ := db.ChargeAttempt(ctx, b.ID); got.Status != billing.ChargeProcessing {
		t.Errorf("attempt %s after the failed transaction, want processing", got.Status)
	}
}

// migrationsThrough is the migrations up to version, so that a test of one
// migration does not apply the later ones again over a schema that has them.
func migrationsThrough(t *testing.T, version int) fs.FS {
	t.Helper()
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	files := fstest.MapFS{}
	for _, name := range names {
		prefix, _, _ := strings.Cut(name, "_")
		if n, err := strconv.Atoi(prefix); err != nil || n > version {
			continue
		}
		data, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = &fstest.MapFile{Data: data}
	}
	return files
}

// TestMigrationEnqueuesWaitingMessages: upgrading a store whose polling
// sender left messages behind gives each unsent one a job, and fails those
// that sender had given up on.
func TestMigrationEnqueuesWaitingMessages(t *testing.T) {
	db := pg.NewDB(t)
	ctx := context.Background()
	a := processingAttempt(t, db, "waiting@example.com")
	b := processingAttempt(t, db, "gaveup@example.com")
	c := processingAttempt(t, db, "sent@example.com")
	// Back to the schema before 009, with three messages as the old sender left them.
	if _, err := db.Pool().Exec(ctx, `
		DELETE FROM river_job;
		ALTER TABLE notifications DROP COLUMN failing_since, DROP COLUMN failed_at;
		CREATE INDEX notifications_unsent_idx ON notifications (created_at) WHERE sent_at IS NULL;
		DELETE FROM schema_migrations WHERE version >= 9`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool().Exec(ctx, `
		INSERT INTO notifications (customer_id, charge_attempt_id, kind, recipient, subject, body, link, attempts, sent_at)
		VALUES ($1, $2, 'payment_failed', 'waiting@example.com', 's', 'b', 'l', 3, NULL),
		       ($3, $4, 'payment_failed', 'gaveup@example.com', 's', 'b', 'l', 10, NULL),
		       ($5, $6, 'payment_failed', 'sent@example.com', 's', 'b', 'l', 1, now())`,
		a.CustomerID, a.ID, b.CustomerID, b.ID, c.CustomerID, c.ID); err != nil {
		t.Fatal(err)
	}
	applied, err := db.Migrate(ctx, migrationsThrough(t, 9))
	if err != nil || len(applied) != 1 || !strings.HasPrefix(applied[0], "009_") {
		t.Fatalf("migrate: %v %v", applied, err)
	}
	status := map[string]billing.NotificationStatus{}
	var waiting int64
	list, err := db.Notifications(ctx, billing.OutboxQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range list {
		status[n.Recipient] = n.Status()
		if n.Recipient == "waiting@example.com" {
			waiting = n.ID
		}
	}
	if status["waiting@example.com"] != billing.NotificationWaiting || status["gaveup@example.com"] != billing.NotificationFailed || status["sent@example.com"] != billing.NotificationSent {
		t.Errorf("after the migration: %v", status)
	}
	if jobs := sendJobsOf(t, db); len(jobs) != 1 || jobs[0] != waiting {
		t.Errorf("send jobs for %v, want one for the waiting message %d", jobs, waiting)
	}
}
