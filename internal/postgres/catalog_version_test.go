package postgres_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/shop"
)

// Every change to products raises the catalog's version in its own
// transaction, and the listener hears of it; when the listener's connection
// is cut, it connects again and tells the version it missed.
func TestFollowCatalogHearsEveryChangeAndComesBack(t *testing.T) {
	db := pg.NewDB(t)
	ctx, stop := context.WithCancel(context.Background())
	heard := make(chan int64, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		db.FollowCatalog(ctx, func(v int64) { heard <- v }, slog.New(slog.DiscardHandler))
	}()
	t.Cleanup(func() { stop(); <-done })
	hear := func(want int64) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case v := <-heard:
				if v >= want {
					return
				}
			case <-deadline:
				t.Fatalf("the listener never told version %d", want)
			}
		}
	}
	version := func() int64 {
		t.Helper()
		v, err := db.CatalogVersion(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	start := version()
	hear(start) // told on connecting
	p, err := db.CreateProduct(context.Background(), shop.Product{Name: "Mug", Price: billing.Money{Amount: 1450, Currency: "usd"}, Status: shop.ProductActive})
	if err != nil {
		t.Fatal(err)
	}
	if v := version(); v <= start {
		t.Fatalf("after a new product the version is %d, was %d", v, start)
	}
	hear(start + 1)

	// A failed write changes nothing, the version included.
	before := version()
	if _, err := db.UpdateProduct(context.Background(), shop.Product{ID: p.ID, Name: "", Price: p.Price}); err == nil {
		t.Fatal("a product without a name was saved")
	}
	if v := version(); v != before {
		t.Errorf("a refused write moved the version from %d to %d", before, v)
	}

	var cut int
	if err := db.Pool().QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'storefront catalog listener'`).Scan(&cut); err != nil || cut != 1 {
		t.Fatalf("cut the listener's connection: %d cut, %v", cut, err)
	}
	if _, err := db.SetProductStatus(context.Background(), p.ID, shop.ProductArchived); err != nil {
		t.Fatal(err)
	}
	hear(version()) // announced while it was away, told when it came back
}
