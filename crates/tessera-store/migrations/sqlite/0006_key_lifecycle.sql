-- Signing keys operators can trust.
--
-- `signs_at`: when a key starts signing. A rotation publishes the new key in the JWKS at once
-- and lets it sign only `tokens.key_publish_ahead` later, so that resource servers caching the
-- JWKS know it before any token carries it; an emergency rotation signs at once. Keys made
-- before this migration signed from their creation.
--
-- `withdrawn_at`: when an operator took a compromised key out (`tessera keys retire`): it is
-- no longer published and no token it signed verifies.
ALTER TABLE signing_keys ADD COLUMN signs_at INTEGER NOT NULL DEFAULT 0;
UPDATE signing_keys SET signs_at = created_at;
ALTER TABLE signing_keys ADD COLUMN withdrawn_at INTEGER;
