-- Tessera's initial schema for PostgreSQL.
-- Ids are UUIDv7, so id order is creation order. timestamptz keeps microseconds.

CREATE TABLE users (
    id             uuid        PRIMARY KEY,
    -- The core lower-cases emails, so a plain unique constraint is case-insensitive in effect.
    -- The store recognises this constraint by name to report an email conflict.
    email          text        NOT NULL CONSTRAINT users_email_key UNIQUE,
    name           text,
    roles          text[]      NOT NULL DEFAULT '{}',
    email_verified boolean     NOT NULL DEFAULT false,
    mfa_enabled    boolean     NOT NULL DEFAULT false,
    disabled       boolean     NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);

CREATE TABLE password_credentials (
    user_id    uuid        PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    algorithm  text        NOT NULL CHECK (algorithm IN ('argon2id', 'argon2i', 'argon2d', 'bcrypt')),
    phc        text        NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE sessions (
    id                      uuid        PRIMARY KEY,
    user_id                 uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_name             text,
    user_agent              text,
    ip                      text,
    created_at              timestamptz NOT NULL,
    last_used_at            timestamptz NOT NULL,
    idle_expires_at         timestamptz NOT NULL,
    absolute_expires_at     timestamptz NOT NULL,
    -- The refresh-token chain: only SHA-256 digests (hex) of tokens are stored.
    refresh_generation      bigint      NOT NULL CHECK (refresh_generation >= 0),
    refresh_digest          text        NOT NULL,
    previous_refresh_digest text,
    refresh_rotated_at      timestamptz NOT NULL,
    revoked_at              timestamptz,
    revoke_reason           text
);

-- Serves the cascade from users, which must reach revoked sessions too.
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
-- A user's unrevoked sessions, newest first: listing them and ending them all.
CREATE INDEX sessions_user_live_idx ON sessions (user_id, created_at DESC, id DESC)
    WHERE revoked_at IS NULL;

-- The revocation feed (API.md §3 `GET /auth/revocations`). No foreign keys: an entry must
-- outlive the user or session it names until `until_at`, the latest `exp` it can affect.
-- Identity values are never reused, and writers take an advisory lock so that cursor order
-- is commit order and a reader resuming after a cursor cannot miss an entry.
CREATE TABLE revocations (
    cursor     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id uuid,
    user_id    uuid,
    -- Seconds since the Unix epoch, as in tokens' `iat` and `exp`.
    revoked_at bigint NOT NULL,
    until_at   bigint NOT NULL,
    CONSTRAINT revocations_one_target CHECK ((session_id IS NULL) <> (user_id IS NULL))
);

CREATE INDEX revocations_until_at_idx ON revocations (until_at);

CREATE TABLE signing_keys (
    kid                text        PRIMARY KEY,
    algorithm          text        NOT NULL,
    sealed_private_key bytea       NOT NULL,
    public_jwk         text        NOT NULL,
    created_at         timestamptz NOT NULL,
    retired_at         timestamptz
);

CREATE TABLE audit_events (
    id            uuid        PRIMARY KEY,
    at            timestamptz NOT NULL,
    -- No foreign key: the trail must outlive the users it mentions.
    actor_user_id uuid,
    action        text        NOT NULL,
    target        text,
    detail        jsonb
);

CREATE INDEX audit_events_at_idx ON audit_events (at);
