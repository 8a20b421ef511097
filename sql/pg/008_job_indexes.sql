-- 008_job_indexes: the job runner's two look-ups per job by index, not by a
-- walk over every job the spinner ever had: claiming a job (is another of
-- this spinner's jobs running?) and starting one (the newest record a
-- succeeded job processed).
CREATE INDEX jobs_spinner_succeeded ON jobs(spinner_id, last_seq) WHERE status = 'succeeded';
CREATE INDEX jobs_spinner_running ON jobs(spinner_id, lease_until) WHERE status = 'running';
