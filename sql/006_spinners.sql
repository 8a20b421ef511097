-- 006_spinners: spinners (automations over one data table) and their jobs.

-- A spinner reads one table. Only a published spinner can be triggered or
-- seen by an API key. schedule is minutes between automatic runs (NULL:
-- none); next_run_at is when the job runner triggers it next, set while it
-- is published and scheduled.
CREATE TABLE spinners (
	seq INTEGER PRIMARY KEY,
	id TEXT NOT NULL UNIQUE,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
	table_id TEXT NOT NULL REFERENCES data_tables(id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	schedule INTEGER CHECK (schedule BETWEEN 1 AND 525600),
	published INTEGER NOT NULL DEFAULT 0 CHECK (published IN (0, 1)),
	next_run_at INTEGER,
	created_at INTEGER NOT NULL,
	UNIQUE (project_id, name)
) STRICT;

CREATE INDEX spinners_project ON spinners(project_id, seq);
CREATE INDEX spinners_due ON spinners(next_run_at) WHERE next_run_at IS NOT NULL;

-- One row a trigger. A job is queued, then running while a job runner holds
-- its lease (runner, lease_until: renewed as it works; a runner that died
-- lets it expire and another picks the job up again), then succeeded with
-- result and last_seq (the newest record it processed: the next job of the
-- spinner starts after it) or failed with reason.
CREATE TABLE jobs (
	seq INTEGER PRIMARY KEY,
	id TEXT NOT NULL UNIQUE,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	spinner_id TEXT NOT NULL REFERENCES spinners(id) ON DELETE CASCADE,
	trigger TEXT NOT NULL CHECK (trigger IN ('api', 'schedule')),
	status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
	attempts INTEGER NOT NULL DEFAULT 0,
	runner TEXT,
	lease_until INTEGER,
	last_seq INTEGER,
	result TEXT, -- JSON: {"processed": N, "nonNull": {"column": N, ...}}
	reason TEXT,
	created_at INTEGER NOT NULL,
	started_at INTEGER,
	finished_at INTEGER
) STRICT;

CREATE INDEX jobs_org ON jobs(org_id, seq);
CREATE INDEX jobs_spinner ON jobs(spinner_id, seq);
CREATE INDEX jobs_open ON jobs(seq) WHERE status IN ('queued', 'running');
