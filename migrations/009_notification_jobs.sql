-- Customer messages are emailed by jobs on River's queue (river_job, made by
-- River's own migrations, which run before ours): one job per message,
-- enqueued with the message, retried with backoff for three days, after
-- which the message is failed and staff may send it again from the outbox.

-- failing_since: the first failure of the current run of tries (the three
-- days count from it); failed_at: when the store gave up.
ALTER TABLE notifications
    ADD COLUMN failing_since timestamptz,
    ADD COLUMN failed_at timestamptz,
    ADD CONSTRAINT notifications_sent_or_failed CHECK (sent_at IS NULL OR failed_at IS NULL);

-- The polling sender this replaces gave up after 10 tries: those messages
-- are failed, for staff to send again.
UPDATE notifications SET failed_at = now(), failing_since = created_at
WHERE sent_at IS NULL AND attempts >= 10;

-- Every other message still waiting gets its job (the args, kind, queue and
-- attempts that the store's inserts use: billing.SendNotificationArgs,
-- QueueEmail, EmailMaxAttempts).
INSERT INTO river_job (args, kind, queue, max_attempts)
SELECT jsonb_build_object('notification_id', id), 'send_notification', 'email', 1000
FROM notifications
WHERE sent_at IS NULL AND failed_at IS NULL AND recipient IS NOT NULL
ORDER BY id;

-- The sender's polling index; jobs find their message by id.
DROP INDEX notifications_unsent_idx;
