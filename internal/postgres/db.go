// Package postgres implements billing.Store on PostgreSQL with pgx: raw SQL,
// one file per table group, every write in a transaction.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/storefront/storefront/internal/billing"
)

// DB is the store's database: a billing.Store on a pgx pool.
type DB struct {
	pool   *pgxpool.Pool
	ingest ingest
	// jobs only inserts River jobs, in the transaction of the change that
	// causes them; internal/jobs works them.
	jobs *river.Client[pgx.Tx]
}

var _ billing.Store = (*DB)(nil)

// DefaultPoolSize is the pool's size when none is set. No transaction spans a
// Stripe or SMTP call, so a slow Stripe holds no connections; the pool only
// has to cover concurrent queries, with room left for /webhook and /readyz.
const DefaultPoolSize = 10

// Options tune the pool.
type Options struct {
	// PoolSize is the most connections the pool opens; 0 means DefaultPoolSize.
	PoolSize int
}

// Open connects to the database at databaseURL with the default options.
func Open(ctx context.Context, databaseURL string) (*DB, error) {
	return OpenWith(ctx, databaseURL, Options{})
}

// OpenWith connects to the database at databaseURL, creating the database
// first if it does not exist, and checks the connection.
func OpenWith(ctx context.Context, databaseURL string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("open database: parse url: %w", err)
	}
	cfg.MaxConns = DefaultPoolSize
	if opts.PoolSize > 0 {
		cfg.MaxConns = int32(opts.PoolSize)
	}
	if err := createDatabaseIfMissing(ctx, cfg.ConnConfig); err != nil {
		return nil, fmt.Errorf("open database %s: %w", cfg.ConnConfig.Database, err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", cfg.ConnConfig.Database, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open database %s: %w", cfg.ConnConfig.Database, err)
	}
	jobs, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open database %s: job client: %w", cfg.ConnConfig.Database, err)
	}
	return &DB{pool: pool, jobs: jobs}, nil
}

// Close closes every connection.
func (db *DB) Close() { db.pool.Close() }

// Pool exposes the pool to tests and benchmarks that seed data directly.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

const (
	codeInvalidCatalogName = "3D000"
	codeDuplicateDatabase  = "42P04"
	codeUniqueViolation    = "23505"
)

// createDatabaseIfMissing makes `make run` work on a fresh machine, where the
// server exists but the store's database does not yet.
func createDatabaseIfMissing(ctx context.Context, cfg *pgx.ConnConfig) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		return conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != codeInvalidCatalogName {
		return err
	}
	admin := cfg.Copy()
	admin.Database = "postgres"
	conn, err = pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return fmt.Errorf("connect to create database: %w", err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{cfg.Database}.Sanitize())
	if err != nil && !(errors.As(err, &pgErr) && pgErr.Code == codeDuplicateDatabase) {
		return fmt.Errorf("create database: %w", err)
	}
	return nil
}

// inTx runs fn in a transaction, committed when fn returns nil.
func (db *DB) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, db.pool, fn)
}

// DropDatabase drops the database named in databaseURL, for starting local
// mode afresh. Without FORCE: a server still connected makes it fail rather
// than lose its connections mid-request.
func DropDatabase(ctx context.Context, databaseURL string) error {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return fmt.Errorf("drop database: parse url: %w", err)
	}
	name := cfg.Database
	admin := cfg.Copy()
	admin.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return fmt.Errorf("drop database %s: connect: %w", name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}
