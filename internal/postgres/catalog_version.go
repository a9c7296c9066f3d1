package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// catalogChannel is where migration 012's trigger announces each new catalog version.
const catalogChannel = "catalog_changed"

// CatalogVersion returns the catalog's version, which every change to
// products raises in its own transaction.
func (db *DB) CatalogVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := db.pool.QueryRow(ctx, `SELECT version FROM catalog_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("catalog version: %w", err)
	}
	return v, nil
}

// catalogListenerName is the listener connection's application_name.
const catalogListenerName = "storefront catalog listener"

// followRetry is the pause before the catalog's listener connects again.
const followRetry = time.Second

// FollowCatalog tells changed each new catalog version as its change
// commits, on any server, until ctx ends. It keeps one connection of its
// own, outside the pool, listening; when that connection fails it connects
// again after a pause, and on every connect it tells changed the current
// version, which covers what was announced while it was away.
func (db *DB) FollowCatalog(ctx context.Context, changed func(version int64), log *slog.Logger) {
	for {
		err := db.listenCatalog(ctx, changed)
		if ctx.Err() != nil {
			return
		}
		log.Warn("catalog listener: connecting again", "err", err, "after", followRetry.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(followRetry):
		}
	}
}

func (db *DB) listenCatalog(ctx context.Context, changed func(version int64)) error {
	cfg := db.pool.Config().ConnConfig
	// Named, so that an operator can tell it from the pool's connections.
	cfg.RuntimeParams["application_name"] = catalogListenerName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("listen catalog: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+catalogChannel); err != nil {
		return fmt.Errorf("listen catalog: %w", err)
	}
	var v int64
	if err := conn.QueryRow(ctx, `SELECT version FROM catalog_version`).Scan(&v); err != nil {
		return fmt.Errorf("listen catalog: version: %w", err)
	}
	changed(v)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return fmt.Errorf("listen catalog: wait: %w", err)
		}
		if v, err := strconv.ParseInt(n.Payload, 10, 64); err == nil {
			changed(v)
		}
	}
}
