-- Emails: `email` keeps the address as its owner typed it (mail goes there); `email_key` is
-- what identifies the account, NFKC then case folding, computed by the core, and unique, so
-- that look-alikes such as full-width letters or another case are one account.
--
-- Addresses stored before this migration were lower-cased; that is their key unless they
-- hold characters NFKC changes, which the core's key of them will then differ from. Such an
-- account logs in again once its email is set anew (`tessera` stores the key with it).
ALTER TABLE users ADD COLUMN email_key TEXT NOT NULL DEFAULT '';
UPDATE users SET email_key = email;
CREATE UNIQUE INDEX users_email_identity_key ON users (email_key);

-- Admin search compares the folded query with folded emails and names (the same folding),
-- so that it ignores case beyond ASCII on every backend. Names stored before this migration
-- get the database's lower-casing, which the next change of the name replaces.
ALTER TABLE users ADD COLUMN name_key TEXT;
UPDATE users SET name_key = lower(name);
