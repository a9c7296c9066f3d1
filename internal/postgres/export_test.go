package postgres

import "context"

// HoldIngest makes the shared-commit writers busy, so that events received
// meanwhile queue up; queued counts them and release writes the queue, as
// the writer that finishes its batch would.
func (db *DB) HoldIngest() (queued func() int, release func()) {
	in := &db.ingest
	in.mu.Lock()
	held := ingestWriters - in.writers
	in.writers = ingestWriters
	in.mu.Unlock()
	queued = func() int {
		in.mu.Lock()
		defer in.mu.Unlock()
		return len(in.queue)
	}
	release = func() {
		in.mu.Lock()
		in.writers -= held - 1 // the caller is now the one writer left
		in.mu.Unlock()
		db.writeIngestQueue(context.Background(), nil)
	}
	return queued, release
}
