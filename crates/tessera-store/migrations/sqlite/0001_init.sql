-- Tessera's initial schema for SQLite.
-- Ids are UUID text (hyphenated, lower case, so text order is creation order for UUIDv7).
-- Times are INTEGER microseconds since the Unix epoch, the precision PostgreSQL keeps.
-- Booleans are INTEGER 0/1; roles are a JSON array of names. STRICT rejects other types.

CREATE TABLE users (
    id             TEXT    NOT NULL PRIMARY KEY,
    -- The core lower-cases emails, so a plain unique index is case-insensitive in effect.
    email          TEXT    NOT NULL UNIQUE,
    name           TEXT,
    roles          TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(roles)),
    email_verified INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1)),
    mfa_enabled    INTEGER NOT NULL DEFAULT 0 CHECK (mfa_enabled IN (0, 1)),
    disabled       INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE password_credentials (
    user_id    TEXT    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    algorithm  TEXT    NOT NULL CHECK (algorithm IN ('argon2id', 'argon2i', 'argon2d', 'bcrypt')),
    phc        TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
    id                      TEXT    NOT NULL PRIMARY KEY,
    user_id                 TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_name             TEXT,
    user_agent              TEXT,
    ip                      TEXT,
    created_at              INTEGER NOT NULL,
    last_used_at            INTEGER NOT NULL,
    idle_expires_at         INTEGER NOT NULL,
    absolute_expires_at     INTEGER NOT NULL,
    -- The refresh-token chain: only SHA-256 digests (hex) of tokens are stored.
    refresh_generation      INTEGER NOT NULL CHECK (refresh_generation >= 0),
    refresh_digest          TEXT    NOT NULL,
    previous_refresh_digest TEXT,
    refresh_rotated_at      INTEGER NOT NULL,
    revoked_at              INTEGER,
    revoke_reason           TEXT
) STRICT;

-- Serves the cascade from users, which must reach revoked sessions too.
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
-- A user's unrevoked sessions, newest first: listing them and ending them all.
CREATE INDEX sessions_user_live_idx ON sessions (user_id, created_at DESC, id DESC)
    WHERE revoked_at IS NULL;

-- The revocation feed (API.md §3 `GET /auth/revocations`). No foreign keys: an entry must
-- outlive the user or session it names until `until_at`, the latest `exp` it can affect.
-- AUTOINCREMENT never reuses a cursor, even after the newest entries are pruned; SQLite's
-- single writer makes cursor order commit order.
CREATE TABLE revocations (
    cursor     INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT,
    user_id    TEXT,
    -- Seconds since the Unix epoch, as in tokens' `iat` and `exp`.
    revoked_at INTEGER NOT NULL,
    until_at   INTEGER NOT NULL,
    CHECK ((session_id IS NULL) <> (user_id IS NULL))
) STRICT;

CREATE INDEX revocations_until_at_idx ON revocations (until_at);

CREATE TABLE signing_keys (
    kid                TEXT    NOT NULL PRIMARY KEY,
    algorithm          TEXT    NOT NULL,
    sealed_private_key BLOB    NOT NULL,
    public_jwk         TEXT    NOT NULL,
    created_at         INTEGER NOT NULL,
    retired_at         INTEGER
) STRICT;

CREATE TABLE audit_events (
    id            TEXT    NOT NULL PRIMARY KEY,
    at            INTEGER NOT NULL,
    -- No foreign key: the trail must outlive the users it mentions.
    actor_user_id TEXT,
    action        TEXT    NOT NULL,
    target        TEXT,
    detail        TEXT    CHECK (detail IS NULL OR json_valid(detail))
) STRICT;

CREATE INDEX audit_events_at_idx ON audit_events (at);
