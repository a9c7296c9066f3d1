-- The outbox pages by keyset, newest first, over every message or the
-- failed ones only (postgres.failedNotification spells the same condition,
-- or the second index goes unused).
CREATE INDEX notifications_created_idx ON notifications (created_at, id);
CREATE INDEX notifications_failed_idx ON notifications (created_at, id) WHERE sent_at IS NULL AND failed_at IS NOT NULL;
