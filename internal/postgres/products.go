package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/storefront/storefront/internal/billing"
	"github.com/storefront/storefront/internal/shop"
)

var _ shop.Store = (*DB)(nil)

const productColumns = `p.id, p.name, p.description, p.unit_amount, p.currency, p.status, p.created_at`

func scanProduct(row pgx.Row) (shop.Product, error) {
	var p shop.Product
	err := row.Scan(&p.ID, &p.Name, &p.Description, &p.Price.Amount, &p.Price.Currency, &p.Status, &p.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, billing.ErrNotFound
	}
	return p, err
}

// Products returns the catalog, active products first, oldest first.
func (db *DB) Products(ctx context.Context, activeOnly bool) ([]shop.Product, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+productColumns+` FROM products p
		WHERE NOT $1 OR p.status = 'active' ORDER BY p.status, p.id`, activeOnly)
	if err != nil {
		return nil, fmt.Errorf("products: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (shop.Product, error) { return scanProduct(row) })
	if err != nil {
		return nil, fmt.Errorf("products: %w", err)
	}
	return list, nil
}

// Product returns one product.
func (db *DB) Product(ctx context.Context, id int64) (shop.Product, error) {
	p, err := scanProduct(db.pool.QueryRow(ctx, `SELECT `+productColumns+` FROM products p WHERE p.id = $1`, id))
	if err != nil {
		return p, fmt.Errorf("product %d: %w", id, err)
	}
	return p, nil
}

// CreateProduct adds a product.
func (db *DB) CreateProduct(ctx context.Context, p shop.Product) (shop.Product, error) {
	out, err := scanProduct(db.pool.QueryRow(ctx, `
		INSERT INTO products AS p (name, description, unit_amount, currency, status) VALUES ($1, $2, $3, $4, $5)
		RETURNING `+productColumns, p.Name, p.Description, p.Price.Amount, p.Price.Currency, p.Status))
	if err != nil {
		return out, fmt.Errorf("create product: %w", err)
	}
	return out, nil
}

// UpdateProduct changes a product's name, description and price.
func (db *DB) UpdateProduct(ctx context.Context, p shop.Product) (shop.Product, error) {
	out, err := scanProduct(db.pool.QueryRow(ctx, `
		UPDATE products AS p SET name = $2, description = $3, unit_amount = $4, currency = $5, updated_at = now()
		WHERE p.id = $1 RETURNING `+productColumns, p.ID, p.Name, p.Description, p.Price.Amount, p.Price.Currency))
	if err != nil {
		return out, fmt.Errorf("update product %d: %w", p.ID, err)
	}
	return out, nil
}

// SetProductStatus archives or restores a product.
func (db *DB) SetProductStatus(ctx context.Context, id int64, status shop.ProductStatus) (shop.Product, error) {
	out, err := scanProduct(db.pool.QueryRow(ctx, `
		UPDATE products AS p SET status = $2, updated_at = now() WHERE p.id = $1 RETURNING `+productColumns, id, status))
	if err != nil {
		return out, fmt.Errorf("set product %d %s: %w", id, status, err)
	}
	return out, nil
}

// SeedProducts adds products to an empty catalog; the table lock keeps two
// processes starting at once from both seeding it.
func (db *DB) SeedProducts(ctx context.Context, products []shop.Product) (bool, error) {
	seeded := false
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE products IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		var any bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM products)`).Scan(&any); err != nil || any {
			return err
		}
		batch := &pgx.Batch{}
		for _, p := range products {
			batch.Queue(`INSERT INTO products (name, description, unit_amount, currency) VALUES ($1, $2, $3, $4)`,
				p.Name, p.Description, p.Price.Amount, p.Price.Currency)
		}
		seeded = true
		return tx.SendBatch(ctx, batch).Close()
	})
	if err != nil {
		return false, fmt.Errorf("seed products: %w", err)
	}
	return seeded, nil
}
