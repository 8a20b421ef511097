-- 001_foundation: what the runtime itself keeps.
-- The schema version lives in PRAGMA user_version; each file here is one step.

-- Settings the running service keeps in the database rather than in config
-- (for example the JWT signing keys added by the identity migration).
CREATE TABLE meta (
	key TEXT PRIMARY KEY,
	value TEXT NOT NULL
) STRICT;

INSERT INTO meta (key, value) VALUES ('created_by', 'tollgate');
