-- 015_rate_take_clock: tollgate_rate_take (014) reads the database's clock
-- once it holds its buckets' rows, not before it waits for them: a take
-- queued behind others across a window's end runs in the window it gets
-- the rows in, so a busy bucket gives no more than its limit a window. An
-- older form of the function, with the host's time for an argument, is
-- dropped where a database still has it.
DROP FUNCTION IF EXISTS tollgate_rate_take(text[], bigint[], bigint[], bigint, bigint);

-- Takes one unit from each bucket names[i] (limits[i] units a window of
-- windows[i] seconds), from all of them or from none, on the database's
-- clock (the one clock every host shares: a host's own, ahead or behind,
-- moves no window): each row is made if missing and locked, in name order
-- (two takes of the same buckets on any hosts cannot each hold one and
-- wait for the other), then all are looked at, then, only when each has a
-- unit left and take is 1, a unit is taken from each. take 0 only looks.
-- Answers a row per bucket: slot, its place in names (1-based); ok,
-- whether it had a unit left; given, the units given in its window after
-- this; ends_at, the window's end; clock, the unix time the take ran at
-- (read once its rows are held).
-- A take (1) that names a bucket twice is an error, never counted twice
-- (a look names it as often as it is given). Its
-- commit is asynchronous (synchronous_commit off for this transaction
-- alone): a database crash may forget the last moment's takes, never
-- break a row. It takes no advisory lock: a take waits only for takes of
-- the same buckets, never for the writers. Its statements run on generic
-- plans: with arrays for arguments the planner would otherwise plan each
-- call anew, which costs more than the take itself.
CREATE OR REPLACE FUNCTION tollgate_rate_take(p_names text[], p_limits bigint[], p_windows bigint[],
	p_take bigint)
RETURNS TABLE (slot integer, ok boolean, given bigint, ends_at bigint, clock bigint)
LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan AS $$
DECLARE
	all_ok boolean;
	taken bigint;
	v_now bigint;
BEGIN
	PERFORM set_config('synchronous_commit', 'off', true);
	-- Made (as an ended window) or locked, in name order; a row a prune
	-- deletes meanwhile is made again.
	INSERT INTO rate_buckets AS b (name, reset_at, n)
		SELECT u.name, floor(extract(epoch FROM clock_timestamp()))::bigint, 0
		FROM unnest(p_names) AS u(name) ORDER BY u.name
		ON CONFLICT (name) DO UPDATE SET n = b.n WHERE false;
	-- The time is read with the rows held: a take that waited for them
	-- runs at the time it got them, after every take before it, so a
	-- window that ended while it waited is not given to it.
	v_now := floor(extract(epoch FROM clock_timestamp()))::bigint;
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
