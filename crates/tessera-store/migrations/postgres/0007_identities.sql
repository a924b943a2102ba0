-- Social login: upstream identities linked to users, and the provider tokens the vault keeps
-- for each, sealed under the master key with the row id as context.
--
-- A provider's subject signs in one user, and a user has at most one identity per provider;
-- the store recognises both constraints by name to report an identity conflict. The second
-- one's index also serves the cascade from users and a user's list of identities.
--
-- The refresh lease: an instance refreshes an identity's tokens only while `lease_holder` is
-- its id and `lease_until` has not passed, and stores them only while it still holds it.
-- `tokens_version` counts replacements of the tokens, so a waiter sees a refresh land.
CREATE TABLE identities (
    id             uuid        PRIMARY KEY,
    user_id        uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider       text        NOT NULL,
    subject        text        NOT NULL,
    -- As the provider gave it at the last login.
    email          text,
    linked_at      timestamptz NOT NULL,
    sealed_tokens  bytea,
    tokens_version bigint      NOT NULL DEFAULT 0,
    -- The provider refused the refresh token: only a new login brings tokens back.
    needs_login    boolean     NOT NULL DEFAULT false,
    -- Whether the account's address was proven when it was linked (the provider vouched for
    -- it, or the account had verified it): an unproven link ends when the address's owner
    -- proves it by mail.
    email_proven   boolean     NOT NULL DEFAULT true,
    lease_holder   uuid,
    lease_until    timestamptz,
    CONSTRAINT identities_subject_key UNIQUE (provider, subject),
    CONSTRAINT identities_user_provider_key UNIQUE (user_id, provider)
);
