// Package migrations holds the database schema as numbered SQL files, embedded
// so that the binary can migrate a database on its own.
package migrations

import "embed"

// FS holds the migration files, named NNN_description.sql and applied in order.
//
//go:embed *.sql
var FS embed.FS
