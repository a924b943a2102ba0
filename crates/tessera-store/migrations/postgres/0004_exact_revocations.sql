-- Exact revocation boundaries.
--
-- `security_epoch` changes whenever what a token says about its user, or whether they may log
-- in, changes (password, roles, email, disabled). A session is created, and a refresh token
-- rotated, only while the epoch is still the one read when the grant was checked, so a grant
-- in flight cannot outlive such a change.
ALTER TABLE users ADD COLUMN security_epoch bigint NOT NULL DEFAULT 0;

-- `revoked_at` is now in milliseconds: a user-level revocation covers exactly the tokens
-- issued before it, even within the same second. Entries recorded in seconds become the last
-- millisecond of their second, which covers what they covered before.
UPDATE revocations SET revoked_at = revoked_at * 1000 + 999;
