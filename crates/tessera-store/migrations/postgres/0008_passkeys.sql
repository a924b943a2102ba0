-- Passkeys: WebAuthn credentials that sign users in, each as the WebAuthn library keeps it
-- (JSON: public key, algorithm, signature counter, backup flags), public data only.
--
-- An authenticator's credential id names one passkey across all users; the store recognises
-- the constraint by name to report a passkey conflict. A login stores the credential's new
-- counter only over the one it read, so of two logins that raced, one loses.
CREATE TABLE passkeys (
    id            uuid        PRIMARY KEY,
    user_id       uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id bytea       NOT NULL,
    credential    text        NOT NULL,
    name          text        NOT NULL,
    created_at    timestamptz NOT NULL,
    last_used_at  timestamptz,
    CONSTRAINT passkeys_credential_id_key UNIQUE (credential_id)
);

-- A user's passkeys, oldest first; also serves the cascade from users.
CREATE INDEX passkeys_user_created_idx ON passkeys (user_id, created_at, id);
