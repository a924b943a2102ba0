-- Two-factor: how each session's user proved who they are (RFC 8176 amr values, space
-- separated), TOTP secrets sealed under the master key, and recovery-code digests.

ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';

CREATE TABLE totp_credentials (
    user_id       TEXT    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed_secret BLOB    NOT NULL,
    -- NULL until setup is confirmed with a code; only then does login ask for one.
    confirmed_at  INTEGER,
    -- The last accepted time step: a code of this step or an earlier one is a replay.
    last_step     INTEGER NOT NULL DEFAULT -1,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- SHA-256 (hex) of the normalised code; the codes themselves are shown once.
    digest  TEXT NOT NULL,
    PRIMARY KEY (user_id, digest)
) STRICT;
