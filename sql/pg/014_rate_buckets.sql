-- 014_rate_buckets: the cluster rate limiter (TOLLGATE_RATELIMIT=postgresql,
-- src/ratelimit_pg.c): the fixed-window buckets every host serving this
-- database takes from, so a budget is exact across hosts.

-- A bucket ("key:<id>", "ip:<address>", "login-acct:email:<hash>", ...):
-- n units given in the window that ends at reset_at (unix seconds). A row
-- whose reset_at has passed is an ended window: the next take starts a new
-- one, and the job runner deletes it (ratelimit_pg_prune).
CREATE TABLE rate_buckets (
	name text PRIMARY KEY,
	reset_at bigint NOT NULL,
	n bigint NOT NULL
);

CREATE INDEX rate_buckets_reset ON rate_buckets(reset_at);

-- Takes one unit from each bucket names[i] (limits[i] units a window of
-- windows[i] seconds), from all of them or from none, on the database's
-- clock (the one clock every host shares: a host's own, ahead or behind,
-- moves no window): each row is made if missing and locked, in name order
-- (two takes of the same buckets on any hosts cannot each hold one and
-- wait for the other), then all are looked at, then, only when each has a
-- unit left and take is 1, a unit is taken from each. take 0 only looks.
-- Answers a row per bucket: slot, its place in names (1-based); ok,
-- whether it had a unit left; given, the units given in its window after
-- this; ends_at, the window's end; clock, the unix time the take ran at.
-- A take (1) that names a bucket twice is an error, never counted twice
-- (a look names it as often as it is given). Its
-- commit is asynchronous (synchronous_commit off for this transaction
-- alone): a database crash may forget the last moment's takes, never
-- break a row. It takes no advisory lock: a take waits only for takes of
-- the same buckets, never for the writers. Its statements run on generic
-- plans: with arrays for arguments the planner would otherwise plan each
-- call anew, which costs more than the take itself.
CREATE FUNCTION tollgate_rate_take(p_names text[], p_limits bigint[], p_windows bigint[],
	p_take bigint)
RETURNS TABLE (slot integer, ok boolean, given bigint, ends_at bigint, clock bigint)
LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan AS $$
DECLARE
	all_ok boolean;
	taken bigint;
	v_now bigint := floor(extract(epoch FROM clock_timestamp()))::bigint;
BEGIN
	PERFORM set_config('synchronous_commit', 'off', true);
	-- Made (as an ended window) or locked, in name order; a row a prune
	-- deletes meanwhile is made again.
	INSERT INTO rate_buckets AS b (name, reset_at, n)
		SELECT u.name, v_now, 0 FROM unnest(p_names) AS u(name) ORDER BY u.name
		ON CONFLICT (name) DO UPDATE SET n = b.n WHERE false;
	SELECT bool_and(b.reset_at <= v_now OR b.n < u.lim) INTO all_ok
		FROM unnest(p_names, p_limits) AS u(name, lim)
		JOIN rate_buckets b ON b.name = u.name;
	IF all_ok AND p_take = 1 THEN
		RETURN QUERY UPDATE rate_buckets AS b SET
			n = CASE WHEN b.reset_at <= v_now THEN 1 ELSE b.n + 1 END,
			reset_at = CASE WHEN b.reset_at <= v_now THEN v_now + u.win ELSE b.reset_at END
			FROM unnest(p_names, p_windows) WITH ORDINALITY AS u(name, win, k)
			WHERE b.name = u.name
			RETURNING u.k::integer, true, b.n, b.reset_at, v_now;
		-- A name given twice updates its row once: undone, never half taken.
		GET DIAGNOSTICS taken = ROW_COUNT;
		IF taken <> cardinality(p_names) THEN
			RAISE EXCEPTION 'tollgate_rate_take: a bucket named twice';
		END IF;
	ELSE
		RETURN QUERY SELECT u.k::integer, b.reset_at <= v_now OR b.n < u.lim,
			CASE WHEN b.reset_at <= v_now THEN 0 ELSE b.n END,
			CASE WHEN b.reset_at <= v_now THEN v_now + u.win ELSE b.reset_at END, v_now
			FROM unnest(p_names, p_limits, p_windows) WITH ORDINALITY AS u(name, lim, win, k)
			JOIN rate_buckets b ON b.name = u.name;
	END IF;
END
$$;
