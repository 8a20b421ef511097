-- 013_webhooks: signed webhooks, the outbox of their events, and the
-- deliveries a sender thread makes of them.

-- The webhooks meter: live webhooks an organization may have.
ALTER TABLE plans ADD COLUMN webhooks INTEGER;
UPDATE plans SET webhooks = CASE id WHEN 'trial' THEN 1 WHEN 'starter' THEN 5 WHEN 'pro' THEN 25
	ELSE NULL END;

-- A receiver of an organization's events. secret is the signing secret
-- sealed with AES-256-GCM under a key derived from TOLLGATE_JWT_SECRET
-- (webhooks.c): a copy of the database alone does not reveal it.
CREATE TABLE webhooks (
	seq INTEGER PRIMARY KEY,
	id TEXT NOT NULL UNIQUE,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	url TEXT NOT NULL,
	events TEXT NOT NULL, -- JSON array of event types
	secret TEXT NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX webhooks_org ON webhooks(org_id, seq);

-- The outbox: an event is written in the same transaction as what caused
-- it, with the exact body every delivery of it sends.
CREATE TABLE webhook_events (
	seq INTEGER PRIMARY KEY,
	id TEXT NOT NULL UNIQUE,
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	type TEXT NOT NULL,
	body TEXT NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;

-- One row an event and a webhook subscribed to it. pending until a 2xx
-- answer (succeeded) or give_up_at (failed); a sender holds it while
-- sending by a lease (sender, lease_until), as the job runner holds jobs.
CREATE TABLE webhook_deliveries (
	seq INTEGER PRIMARY KEY,
	id TEXT NOT NULL UNIQUE,
	webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
	event_id TEXT NOT NULL REFERENCES webhook_events(id) ON DELETE CASCADE,
	status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
	attempts INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER,
	sender TEXT,
	lease_until INTEGER,
	last_status INTEGER, -- the HTTP status of the last attempt; NULL: no answer
	last_error TEXT,
	last_attempt_at INTEGER,
	created_at INTEGER NOT NULL,
	give_up_at INTEGER NOT NULL
) STRICT;

CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries(webhook_id, seq);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at)
	WHERE status = 'pending';

-- Events that happen once ("meter.threshold:records:2026-12:80",
-- "key.expiring:key_...:7d"): the mark is taken in the transaction that
-- writes the event, so it is neither sent twice nor skipped.
CREATE TABLE webhook_marks (
	org_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
	mark TEXT NOT NULL,
	at INTEGER NOT NULL,
	PRIMARY KEY (org_id, mark)
) STRICT, WITHOUT ROWID;
