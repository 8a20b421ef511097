-- 012_session_activity: an account's sessions, newest first, for its sign-in
-- activity (GET /v1/auth/activity). The rowid, the order they were signed
-- in, is the index's last column (SQLite puts it there by itself).
CREATE INDEX sessions_user ON sessions(user_id, rowid);
