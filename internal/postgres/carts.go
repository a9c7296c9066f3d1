package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/storefront/storefront/internal/shop"
)

// Cart returns the cart of a token hash, with its lines at today's prices.
func (db *DB) Cart(ctx context.Context, tokenHash []byte) (shop.Cart, error) {
	c, err := cartIn(ctx, db.pool, tokenHash)
	if err != nil {
		return c, fmt.Errorf("cart: %w", err)
	}
	return c, nil
}

// querier is a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func cartIn(ctx context.Context, q querier, tokenHash []byte) (shop.Cart, error) {
	var c shop.Cart
	err := q.QueryRow(ctx, `SELECT id FROM carts WHERE token_hash = $1`, tokenHash).Scan(&c.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		return shop.Cart{}, nil
	}
	if err != nil {
		return c, err
	}
	rows, err := q.Query(ctx, `SELECT `+productColumns+`, cl.quantity FROM cart_lines cl JOIN products p ON p.id = cl.product_id
		WHERE cl.cart_id = $1 ORDER BY cl.added_at, p.id`, c.ID)
	if err != nil {
		return c, err
	}
	c.Lines, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (shop.CartLine, error) {
		var l shop.CartLine
		p := &l.Product
		err := row.Scan(&p.ID, &p.Name, &p.Description, &p.Price.Amount, &p.Price.Currency, &p.Status, &p.CreatedAt, &l.Quantity)
		return l, err
	})
	return c, err
}

// ChangeCart sets a product's quantity in a cart to what change decides,
// with the cart's row locked, so that concurrent adds are judged one after
// the other (one currency per cart holds).
func (db *DB) ChangeCart(ctx context.Context, tokenHash []byte, productID int64, change func(shop.Cart, shop.Product) (int, error)) (shop.Cart, error) {
	var out shop.Cart
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var cartID int64
		if err := tx.QueryRow(ctx, `INSERT INTO carts (token_hash) VALUES ($1)
			ON CONFLICT (token_hash) DO UPDATE SET updated_at = now() RETURNING id`, tokenHash).Scan(&cartID); err != nil {
			return err
		}
		cart, err := cartIn(ctx, tx, tokenHash)
		if err != nil {
			return err
		}
		product, err := scanProduct(tx.QueryRow(ctx, `SELECT `+productColumns+` FROM products p WHERE p.id = $1`, productID))
		if err != nil {
			return err
		}
		quantity, err := change(cart, product)
		if err != nil {
			return err
		}
		if quantity == 0 {
			_, err = tx.Exec(ctx, `DELETE FROM cart_lines WHERE cart_id = $1 AND product_id = $2`, cartID, productID)
		} else {
			_, err = tx.Exec(ctx, `INSERT INTO cart_lines (cart_id, product_id, quantity) VALUES ($1, $2, $3)
				ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = excluded.quantity, updated_at = now()`, cartID, productID, quantity)
		}
		if err != nil {
			return err
		}
		out, err = cartIn(ctx, tx, tokenHash)
		return err
	})
	if err != nil {
		return shop.Cart{}, fmt.Errorf("change cart: %w", err)
	}
	return out, nil
}

// CartCount returns how many items the cart of a token hash holds, lines of
// archived products included, as Cart's Count does: one indexed read.
func (db *DB) CartCount(ctx context.Context, tokenHash []byte) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT coalesce(sum(cl.quantity), 0) FROM carts c JOIN cart_lines cl ON cl.cart_id = c.id
		WHERE c.token_hash = $1`, tokenHash).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("cart count: %w", err)
	}
	return n, nil
}
