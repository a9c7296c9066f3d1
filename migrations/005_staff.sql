-- Named staff accounts. The user `admin` (ADMIN_PASSWORD) is not a row: it
-- lives in the configuration, as before. Emails are stored lower-cased, so
-- the unique index makes them unique whatever their case.
CREATE TABLE staff_users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    -- An argon2id hash in the PHC string format; never the password.
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    disabled_at   timestamptz
);
CREATE UNIQUE INDEX staff_users_email_idx ON staff_users (lower(email));

-- Login sessions. Only a SHA-256 of the cookie's token is stored, so a copy
-- of this table signs nobody in.
CREATE TABLE staff_sessions (
    token_hash   bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    -- The staff user, or NULL for the configured `admin`.
    user_id      bigint REFERENCES staff_users (id) ON DELETE CASCADE,
    actor        text NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX staff_sessions_user_idx ON staff_sessions (user_id);
CREATE INDEX staff_sessions_expires_idx ON staff_sessions (expires_at);

-- Failed sign-ins per user name and per client address, shared by every
-- replica: a lock-out holds wherever the next guess lands.
CREATE TABLE staff_login_throttle (
    key          text PRIMARY KEY CHECK (length(key) <= 300),
    failures     integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    locked_until timestamptz,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX staff_login_throttle_updated_idx ON staff_login_throttle (updated_at);

-- Who did what to money or cards, from where. Append-only: the triggers
-- below refuse every UPDATE, DELETE and TRUNCATE, so a row once written
-- stays as written, whoever holds the application's credentials.
CREATE TABLE audit_log (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    actor         text NOT NULL CHECK (actor <> ''),
    actor_address text NOT NULL DEFAULT '',
    action        text NOT NULL CHECK (action <> ''),
    target        text NOT NULL DEFAULT '',
    amount        bigint,
    currency      text CHECK (currency ~ '^[a-z]{3}$'),
    detail        text NOT NULL DEFAULT '',
    CHECK ((amount IS NULL) = (currency IS NULL))
);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
