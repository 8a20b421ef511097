-- 002_identity: plans, organizations, users, sessions, signing keys, audit.
-- Times are unix seconds (INTEGER); ids are opaque text made by the service.

-- Plans are data: change a limit here or with UPDATE, no recompile.
-- A NULL limit is unlimited; jobs and records are per calendar month (UTC).
CREATE TABLE plans (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	position INTEGER NOT NULL,
	projects INTEGER,
	users INTEGER,
	api_keys INTEGER,
	jobs INTEGER,
	records INTEGER
) STRICT;

INSERT INTO plans (id, name, position, projects, users, api_keys, jobs, records) VALUES
	('trial', 'Trial', 1, 1, 2, 2, 50, 10000),
	('starter', 'Starter', 2, 5, 10, 10, 1000, 1000000),
	('pro', 'Pro', 3, 25, 50, 50, 20000, 20000000),
	('enterprise', 'Enterprise', 4, NULL, NULL, NULL, NULL, NULL);

CREATE TABLE organizations (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	plan TEXT NOT NULL REFERENCES plans(id),
	created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
	seq INTEGER PRIMARY KEY,
	id TEXT NOT NULL UNIQUE,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	email TEXT NOT NULL UNIQUE COLLATE NOCASE,
	name TEXT,
	role TEXT NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
	password_hash TEXT NOT NULL, -- argon2id, encoded with its parameters
	created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX users_org ON users(org_id, seq);

-- One row a sign-in. A session is live while ended_at is NULL; the partial
-- unique index makes "one live session per account" a fact of the data.
CREATE TABLE sessions (
	id TEXT PRIMARY KEY,
	user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	org_id TEXT NOT NULL,
	device TEXT NOT NULL,
	ip TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	last_seen_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL, -- the absolute lifetime
	ended_at INTEGER,
	end_reason TEXT CHECK (end_reason IN ('logout', 'replaced', 'revoked', 'expired')),
	replaced_by TEXT -- the session that took over, for SESSION_REPLACED details
) STRICT;

CREATE UNIQUE INDEX sessions_one_live ON sessions(user_id) WHERE ended_at IS NULL;

-- HMAC keys for user tokens beyond TOLLGATE_JWT_SECRET: the newest signs,
-- every one verifies until its tokens can no longer be alive.
CREATE TABLE jwt_keys (
	kid TEXT PRIMARY KEY,
	secret TEXT NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;

-- Identity and key events; never a password, token or key secret.
CREATE TABLE audit (
	seq INTEGER PRIMARY KEY,
	org_id TEXT,
	at INTEGER NOT NULL,
	event TEXT NOT NULL,
	actor TEXT,
	target TEXT,
	request_id TEXT,
	ip TEXT
) STRICT;

CREATE INDEX audit_org ON audit(org_id, seq);

-- Monthly meters: one row per organization, meter and month ('2026-11').
-- The month is part of the key, so the reset on the 1st needs no job and
-- the past months stay as history.
CREATE TABLE usage (
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	meter TEXT NOT NULL CHECK (meter IN ('jobs', 'records')),
	period TEXT NOT NULL,
	used INTEGER NOT NULL,
	PRIMARY KEY (org_id, meter, period)
) STRICT, WITHOUT ROWID;
