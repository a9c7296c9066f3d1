// Package postgrestest gives tests a fresh, migrated database of their own on
// a real PostgreSQL server.
package postgrestest

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storefront/storefront/internal/postgres"
	"github.com/storefront/storefront/migrations"
)

// DefaultAdminURL is the server tests use unless TEST_DATABASE_URL names another.
const DefaultAdminURL = "postgres://127.0.0.1:5432/postgres?sslmode=disable"

// Template is a migrated database that tests copy, which is much faster than
// migrating a database per test.
type Template struct {
	adminURL string
	name     string
	err      error
	mu       sync.Mutex // CREATE DATABASE ... TEMPLATE refuses concurrent copies of one source
}

// Setup migrates a template database; call it from TestMain and Close it after m.Run.
// An unreachable server is remembered and reported by each NewDB.
func Setup() *Template {
	adminURL := os.Getenv("TEST_DATABASE_URL")
	if adminURL == "" {
		adminURL = DefaultAdminURL
	}
	t := &Template{adminURL: adminURL, name: "storefront_tmpl_" + strings.ToLower(rand.Text()[:12])}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t.err = t.create(ctx)
	return t
}

func (t *Template) create(ctx context.Context) error {
	url, err := t.databaseURL(t.name)
	if err != nil {
		return err
	}
	db, err := postgres.Open(ctx, url) // creates the database
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx, migrations.FS); err != nil {
		return err
	}
	return nil
}

// Run is a TestMain body: it sets *template up, runs the tests and drops it.
func Run(m *testing.M, template **Template) int {
	*template = Setup()
	defer (*template).Close()
	return m.Run()
}

// Close drops the template.
func (t *Template) Close() {
	if t.err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t.admin(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{t.name}.Sanitize()+" WITH (FORCE)") //nolint:errcheck
}

// NewDB returns a fresh migrated database, dropped when the test ends. With
// no PostgreSQL server the test is skipped, except under CI, where it fails.
func (t *Template) NewDB(tb testing.TB) *postgres.DB {
	tb.Helper()
	db, _ := t.NewDBWithURL(tb)
	return db
}

// NewDBWithURL is NewDB that also returns the database's URL, for tests that
// start the whole program.
func (t *Template) NewDBWithURL(tb testing.TB) (*postgres.DB, string) {
	tb.Helper()
	if t.err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("PostgreSQL is required under CI: %v", t.err)
		}
		tb.Skipf("no PostgreSQL at %s (set TEST_DATABASE_URL): %v", t.adminURL, t.err)
	}
	ctx := context.Background()
	name := "storefront_test_" + strings.ToLower(rand.Text()[:12])
	t.mu.Lock()
	err := t.admin(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+pgx.Identifier{t.name}.Sanitize())
	t.mu.Unlock()
	if err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	url, err := t.databaseURL(name)
	if err != nil {
		tb.Fatal(err)
	}
	db, err := postgres.Open(ctx, url)
	if err != nil {
		tb.Fatalf("open test database: %v", err)
	}
	tb.Cleanup(func() {
		db.Close()
		if err := t.admin(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			tb.Logf("drop test database %s: %v", name, err)
		}
	})
	return db, url
}

func (t *Template) databaseURL(name string) (string, error) {
	cfg, err := pgx.ParseConfig(t.adminURL)
	if err != nil {
		return "", fmt.Errorf("TEST_DATABASE_URL: %w", err)
	}
	// Swap only the database name, keeping host, user and options.
	base, query, _ := strings.Cut(t.adminURL, "?")
	if cfg.Database != "" {
		base = strings.TrimSuffix(base, "/"+cfg.Database)
	}
	url := strings.TrimSuffix(base, "/") + "/" + name
	if query != "" {
		url += "?" + query
	}
	return url, nil
}

func (t *Template) admin(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, t.adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// ClonePlacedOrder makes n more placed orders like order id, with its lines,
// each to the active cards saved in turn, with their customers: many orders
// to charge without a checkout each.
func ClonePlacedOrder(tb testing.TB, db *postgres.DB, id int64, n int) []int64 {
	tb.Helper()
	rows, err := db.Pool().Query(context.Background(), `
		WITH cards AS (
			SELECT pm.id, pm.customer_id, c.email, row_number() OVER (ORDER BY pm.id) - 1 AS i, count(*) OVER () AS n
			FROM payment_methods pm JOIN customers c ON c.id = pm.customer_id WHERE pm.status = 'active'),
		made AS (
			INSERT INTO orders (email, customer_id, status, currency, total, checkout_key, payment_method_id, placed_at)
			SELECT cards.email, cards.customer_id, 'placed', o.currency, o.total, o.checkout_key || '-' || g, cards.id, now()
			FROM orders o CROSS JOIN generate_series(1, $2) g JOIN cards ON cards.i = g % cards.n
			WHERE o.id = $1 RETURNING id),
		lines AS (
			INSERT INTO order_lines (order_id, position, product_id, name, unit_amount, quantity)
			SELECT made.id, l.position, l.product_id, l.name, l.unit_amount, l.quantity FROM made, order_lines l WHERE l.order_id = $1)
		SELECT id FROM made ORDER BY id`, id, n)
	if err != nil {
		tb.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil || len(ids) != n {
		tb.Fatalf("clone order %d %d times: %d made, %v", id, n, len(ids), err)
	}
	return ids
}
