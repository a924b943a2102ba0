-- Emails: `email` keeps the address as its owner typed it (mail goes there); `email_key` is
-- what identifies the account, NFKC then case folding, computed by the core, and unique, so
-- that look-alikes such as full-width letters or another case are one account. The store
-- recognises the index by name to report an email conflict.
--
-- Addresses stored before this migration were lower-cased; that is their key unless they
-- hold characters NFKC changes.
ALTER TABLE users ADD COLUMN email_key text;
UPDATE users SET email_key = email;
ALTER TABLE users ALTER COLUMN email_key SET NOT NULL;
CREATE UNIQUE INDEX users_email_identity_key ON users (email_key);

-- Admin search compares the folded query with folded emails and names (the same folding),
-- so that it ignores case beyond ASCII on every backend. Names stored before this migration
-- get the database's lower-casing, which the next change of the name replaces.
ALTER TABLE users ADD COLUMN name_key text;
UPDATE users SET name_key = lower(name);
