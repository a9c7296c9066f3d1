// Package web holds the store's templates and static files, embedded so that
// the binary serves them from anywhere.
package web

import "embed"

// FS holds templates/*.html and static/*.
//
//go:embed templates static
var FS embed.FS
