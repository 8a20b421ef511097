-- 011_plan_rate_limits: each plan's request budgets, in requests a window
-- (TOLLGATE_RATE_WINDOW, a minute by default): per API key, per signed-in
-- user, and per organization (all of its keys and users together). NULL:
-- the plan sets none and the server's default applies (TOLLGATE_RATE_KEY,
-- TOLLGATE_RATE_USER, TOLLGATE_RATE_ORG).
ALTER TABLE plans ADD COLUMN rate_key bigint CHECK (rate_key IS NULL OR rate_key >= 1);
ALTER TABLE plans ADD COLUMN rate_user bigint CHECK (rate_user IS NULL OR rate_user >= 1);
ALTER TABLE plans ADD COLUMN rate_org bigint CHECK (rate_org IS NULL OR rate_org >= 1);

UPDATE plans SET rate_key = 600, rate_user = 600, rate_org = 1200 WHERE id = 'trial';
UPDATE plans SET rate_key = 1200, rate_user = 1200, rate_org = 3000 WHERE id = 'starter';
UPDATE plans SET rate_key = 3000, rate_user = 3000, rate_org = 10000 WHERE id = 'pro';
UPDATE plans SET rate_key = 10000, rate_user = 10000, rate_org = 50000 WHERE id = 'enterprise';
