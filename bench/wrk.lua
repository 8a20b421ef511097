-- wrk.lua: wrk script for bench/run.sh. The method and body come from
-- $BENCH_METHOD (GET) and the file $BENCH_BODY; headers from wrk's -H.
-- Prints one machine-readable line a figure: requests/s of answers that
-- were 2xx, the count of others, and latency percentiles.
local method = os.getenv("BENCH_METHOD") or "GET"
wrk.method = method
local path = os.getenv("BENCH_BODY")
if path and path ~= "" then
	local f = assert(io.open(path, "rb"))
	wrk.body = f:read("*a")
	f:close()
end

function done(summary, latency)
	local secs = summary.duration / 1e6
	local e = summary.errors
	local bad = e.status + e.connect + e.read + e.write + e.timeout
	io.write(string.format("rps %.1f\nbad %d\nrequests %d\nseconds %.3f\np50_ms %.3f\np99_ms %.3f\n",
		(summary.requests - e.status) / secs, bad, summary.requests, secs,
		latency:percentile(50) / 1e3, latency:percentile(99) / 1e3))
end
