-- The mail outbox and the one-time codes mail links carry.

CREATE TABLE mail_outbox (
    id           TEXT    NOT NULL PRIMARY KEY,
    kind         TEXT    NOT NULL,
    payload      TEXT    NOT NULL CHECK (json_valid(payload)),
    due_at       INTEGER NOT NULL,
    -- Held by an instance until then; NULL when nobody holds it.
    leased_until INTEGER,
    attempts     INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX mail_outbox_due ON mail_outbox (due_at);

CREATE TABLE one_time_codes (
    -- SHA-256 (hex) of the code: the code itself is only in the mail.
    digest     TEXT    NOT NULL PRIMARY KEY,
    purpose    TEXT    NOT NULL,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- What the code carries besides its user: the new address of an email change.
    detail     TEXT,
    expires_at INTEGER NOT NULL
) STRICT;
