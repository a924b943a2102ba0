-- Grows a Tessera PostgreSQL database by :users accounts, each with one live session, for the
-- "1M users / 1M sessions" figures. Run after the benchmark users exist (their password hash is
-- reused, so seeding does no hashing). Usage: psql -v users=1000000 -f bench/seed_million.sql URL
\set ON_ERROR_STOP on
BEGIN;
CREATE TEMP TABLE seeded AS
SELECT gen_random_uuid() AS id, 'million-' || g || '@example.com' AS email
FROM generate_series(1, :users) AS g;

INSERT INTO users (id, email, created_at, updated_at)
SELECT id, email, now(), now() FROM seeded;

INSERT INTO password_credentials (user_id, algorithm, phc, updated_at)
SELECT id, 'argon2id', (SELECT phc FROM password_credentials LIMIT 1), now() FROM seeded;

-- Digests are random: these sessions are live rows the refresh path must find its way past,
-- not sessions anyone refreshes.
INSERT INTO sessions (id, user_id, device_name, user_agent, ip, created_at, last_used_at,
                      idle_expires_at, absolute_expires_at, refresh_generation, refresh_digest,
                      refresh_rotated_at)
SELECT gen_random_uuid(), id, 'seeded', 'bench/seed_million.sql', '127.0.0.1', now(), now(),
       now() + interval '30 days', now() + interval '90 days', 0,
       encode(sha256(id::text::bytea), 'hex'), now()
FROM seeded;
COMMIT;
ANALYZE users;
ANALYZE password_credentials;
ANALYZE sessions;
