-- The mail outbox and the one-time codes mail links carry.

CREATE TABLE mail_outbox (
    id           uuid        PRIMARY KEY,
    kind         text        NOT NULL,
    payload      jsonb       NOT NULL,
    due_at       timestamptz NOT NULL,
    -- Held by an instance until then; NULL when nobody holds it.
    leased_until timestamptz,
    attempts     integer     NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL
);
CREATE INDEX mail_outbox_due ON mail_outbox (due_at);

CREATE TABLE one_time_codes (
    -- SHA-256 (hex) of the code: the code itself is only in the mail.
    digest     text        PRIMARY KEY,
    purpose    text        NOT NULL,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- What the code carries besides its user: the new address of an email change.
    detail     text,
    expires_at timestamptz NOT NULL
);
