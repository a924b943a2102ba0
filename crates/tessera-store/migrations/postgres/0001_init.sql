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
    id                  uuid        PRIMARY KEY,
    user_id             uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_name         text,
    user_agent          text,
    ip                  text,
    created_at          timestamptz NOT NULL,
    last_used_at        timestamptz NOT NULL,
    idle_expires_at     timestamptz NOT NULL,
    absolute_expires_at timestamptz NOT NULL,
    revoked_at          timestamptz,
    revoke_reason       text
);

CREATE INDEX sessions_user_id_idx ON sessions (user_id);

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
