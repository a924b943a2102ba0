-- Passkeys: WebAuthn credentials that sign users in, each as the WebAuthn library keeps it
-- (JSON: public key, algorithm, signature counter, backup flags), public data only.
--
-- An authenticator's credential id names one passkey across all users; the store reports a
-- taken one as a passkey conflict. A login stores the credential's new counter only over the
-- one it read, so of two logins that raced, one loses.
CREATE TABLE passkeys (
    id            TEXT    NOT NULL PRIMARY KEY,
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id BLOB    NOT NULL UNIQUE,
    credential    TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
) STRICT;

-- A user's passkeys, oldest first; also serves the cascade from users.
CREATE INDEX passkeys_user_created_idx ON passkeys (user_id, created_at, id);
