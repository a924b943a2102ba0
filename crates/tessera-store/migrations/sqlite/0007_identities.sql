-- Social login: upstream identities linked to users, and the provider tokens the vault keeps
-- for each, sealed under the master key with the row id as context.
--
-- A provider's subject signs in one user, and a user has at most one identity per provider;
-- the store reports either conflict as an identity conflict. The second rule's index also
-- serves the cascade from users and a user's list of identities.
--
-- The refresh lease: an instance refreshes an identity's tokens only while `lease_holder` is
-- its id and `lease_until` has not passed, and stores them only while it still holds it.
-- `tokens_version` counts replacements of the tokens, so a waiter sees a refresh land.
CREATE TABLE identities (
    id             TEXT    NOT NULL PRIMARY KEY,
    user_id        TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider       TEXT    NOT NULL,
    subject        TEXT    NOT NULL,
    -- As the provider gave it at the last login.
    email          TEXT,
    linked_at      INTEGER NOT NULL,
    sealed_tokens  BLOB,
    tokens_version INTEGER NOT NULL DEFAULT 0,
    -- The provider refused the refresh token: only a new login brings tokens back.
    needs_login    INTEGER NOT NULL DEFAULT 0 CHECK (needs_login IN (0, 1)),
    -- Whether the account's address was proven when it was linked (the provider vouched for
    -- it, or the account had verified it): an unproven link ends when the address's owner
    -- proves it by mail.
    email_proven   INTEGER NOT NULL DEFAULT 1 CHECK (email_proven IN (0, 1)),
    lease_holder   TEXT,
    lease_until    INTEGER,
    UNIQUE (provider, subject),
    UNIQUE (user_id, provider)
) STRICT;
