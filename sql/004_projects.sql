-- 004_projects: projects, the containers of data tables and spinners.
CREATE TABLE projects (
	seq INTEGER PRIMARY KEY,
	id TEXT NOT NULL UNIQUE,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	UNIQUE (org_id, name)
) STRICT;

CREATE INDEX projects_org ON projects(org_id, seq);
