-- 007_idempotency_expiry: Idempotency-Keys are kept 24 hours; this index lets
-- each new claim delete a few expired ones, oldest first, without a scan.
CREATE INDEX idempotency_created ON idempotency(created_at);
