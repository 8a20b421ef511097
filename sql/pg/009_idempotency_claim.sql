-- 009_idempotency_claim: each claim of an Idempotency-Key gets its own
-- random id. A claim left unfinished for a minute is taken over by a retry;
-- the first request, if it was only slow and not dead, then finds the key
-- no longer its own when it stores its answer, and rolls its work back
-- instead of committing it a second time.
ALTER TABLE idempotency ADD COLUMN claim text;
