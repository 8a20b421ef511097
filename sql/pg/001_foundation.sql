-- 001_foundation: what the runtime itself keeps (PostgreSQL; sql/001 is the
-- SQLite text). The runner records the schema version; each file here is one
-- step, run in one transaction.

-- Settings the running service keeps in the database rather than in config
-- (for example the JWT signing keys added by the identity migration).
CREATE TABLE meta (
	key text PRIMARY KEY,
	value text NOT NULL
);

INSERT INTO meta (key, value) VALUES ('created_by', 'tollgate');
