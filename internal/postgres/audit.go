package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/storefront/storefront/internal/staff"
)

// AppendAudit writes one audit row; the table refuses to change it afterwards.
func (db *DB) AppendAudit(ctx context.Context, e staff.Entry) (staff.Entry, error) {
	return appendAudit(ctx, db.pool, e)
}

// appendAudit writes an audit row through q: the pool, or the transaction
// of the action it records.
func appendAudit(ctx context.Context, q querier, e staff.Entry) (staff.Entry, error) {
	err := q.QueryRow(ctx, `
		INSERT INTO audit_log (actor, actor_address, action, target, amount, currency, detail)
		VALUES ($1, $2, $3, $4, CASE WHEN $6 = '' THEN NULL ELSE $5::bigint END, nullif($6, ''), $7)
		RETURNING id, at`, e.Actor, e.ActorAddress, e.Action, e.Target, e.Amount, e.Currency, e.Detail).Scan(&e.ID, &e.At)
	if err != nil {
		return e, fmt.Errorf("append audit: %w", err)
	}
	return e, nil
}

// AuditEntries returns audit rows newest first, before the keyset cursor beforeID when it is not 0.
func (db *DB) AuditEntries(ctx context.Context, beforeID int64, limit int) ([]staff.Entry, error) {
	rows, err := db.pool.Query(ctx, `
		SELECT id, at, actor, actor_address, action, target, coalesce(amount, 0), coalesce(currency, ''), detail
		FROM audit_log WHERE ($1 = 0 OR id < $1) ORDER BY id DESC LIMIT $2`, beforeID, limit)
	if err != nil {
		return nil, fmt.Errorf("audit entries: %w", err)
	}
	entries, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (staff.Entry, error) {
		var e staff.Entry
		err := row.Scan(&e.ID, &e.At, &e.Actor, &e.ActorAddress, &e.Action, &e.Target, &e.Amount, &e.Currency, &e.Detail)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("audit entries: %w", err)
	}
	return entries, nil
}
