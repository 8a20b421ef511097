-- 003_api_keys: organization keys for automation, stored only as hashes.
CREATE TABLE api_keys (
	seq INTEGER PRIMARY KEY,
	id TEXT NOT NULL UNIQUE,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	public_id TEXT NOT NULL UNIQUE, -- the 8 characters after "tg_"
	secret_hash TEXT NOT NULL,      -- SHA-256 of the whole key, hex
	scopes INTEGER NOT NULL,        -- bit 0 ingest, 1 trigger, 2 read
	created_at INTEGER NOT NULL,
	expires_at INTEGER,
	last_used_at INTEGER,
	-- Revoked from this time on; a rotation sets it to the end of the grace
	-- period, so the old key keeps working until then.
	revoked_at INTEGER,
	rotated_to TEXT
) STRICT;

CREATE INDEX api_keys_org ON api_keys(org_id, seq);
