-- 014_rate_buckets: the buckets of the cluster rate limiter, which runs on
-- the PostgreSQL store only (sql/pg/014_rate_buckets.sql, with the function
-- that takes from them). On SQLite the limiter is the host's own table
-- (src/ratelimit.c) and this table stays empty; it is here so both stores
-- have one schema.
CREATE TABLE rate_buckets (
	name TEXT PRIMARY KEY,
	reset_at INTEGER NOT NULL,
	n INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX rate_buckets_reset ON rate_buckets(reset_at);
