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
    id                  TEXT    NOT NULL PRIMARY KEY,
    user_id             TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_name         TEXT,
    user_agent          TEXT,
    ip                  TEXT,
    created_at          INTEGER NOT NULL,
    last_used_at        INTEGER NOT NULL,
    idle_expires_at     INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    revoked_at          INTEGER,
    revoke_reason       TEXT
) STRICT;

CREATE INDEX sessions_user_id_idx ON sessions (user_id);

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
