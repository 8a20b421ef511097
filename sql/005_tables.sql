-- 005_tables: data tables, their records, and idempotent ingest.

-- A table's schema is NULL until its first CSV import defines it; then it
-- is the JSON the API shows: {"columns": [{"name", "type"}, ...]}.
CREATE TABLE data_tables (
	seq INTEGER PRIMARY KEY,
	id TEXT NOT NULL UNIQUE,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	schema TEXT,
	published INTEGER NOT NULL DEFAULT 0 CHECK (published IN (0, 1)),
	created_at INTEGER NOT NULL,
	UNIQUE (project_id, name)
) STRICT;

CREATE INDEX data_tables_project ON data_tables(project_id, seq);

-- One row a record, in ingest order: seq is the order and the cursor.
CREATE TABLE records (
	seq INTEGER PRIMARY KEY,
	table_id TEXT NOT NULL REFERENCES data_tables(id) ON DELETE CASCADE,
	data TEXT NOT NULL, -- a JSON object, typed by the table's schema
	created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX records_table ON records(table_id, seq);

-- Idempotency-Key: the first request's body hash and, once it finished,
-- its answer, replayed for 24 hours.
CREATE TABLE idempotency (
	org_id TEXT NOT NULL,
	key TEXT NOT NULL,
	request_hash TEXT NOT NULL,
	status INTEGER, -- NULL while the first request is still running
	response TEXT,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (org_id, key)
) STRICT, WITHOUT ROWID;
