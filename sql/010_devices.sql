-- 010_devices: device credentials (OWASP "device cookies") and the failed
-- sign-in budgets of accounts and devices, kept in the store so a flood of
-- names cannot push them out of the shared rate-limit table.

-- A browser or app that signed in: it holds "tgd_" + 64 hex characters
-- (256 random bits); only their SHA-256 is stored. Deleted to revoke.
CREATE TABLE devices (
	seq INTEGER PRIMARY KEY,
	id TEXT NOT NULL UNIQUE,
	user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	secret_hash TEXT NOT NULL UNIQUE, -- SHA-256 of the whole token, hex
	name TEXT NOT NULL,               -- the sanitised User-Agent
	created_at INTEGER NOT NULL,
	last_used_at INTEGER NOT NULL
) STRICT;

CREATE INDEX devices_user ON devices(user_id, seq);

-- The device a session was signed in from (NULL: none, or before 011).
ALTER TABLE sessions ADD COLUMN device_id TEXT;

-- Failed sign-ins in a fixed window: subject is a user id (attempts from
-- unknown devices, and wrong current passwords) or a device id (attempts
-- that carry that device's token).
CREATE TABLE login_budgets (
	subject TEXT PRIMARY KEY,
	user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
	reset_at INTEGER NOT NULL,
	failures INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX login_budgets_user ON login_budgets(user_id);
