-- ingest.lua: wrk script for bench/ingest.sh: POSTs the same 500-record
-- batch ($BENCH_BODY, of type $BENCH_TYPE and Content-Encoding
-- $BENCH_ENCODING when set) with an API key ($BENCH_KEY) and counts the
-- answers.
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("BENCH_TYPE") or "application/json"
local encoding = os.getenv("BENCH_ENCODING")
if encoding and encoding ~= "" then
	wrk.headers["Content-Encoding"] = encoding
end
wrk.headers["X-API-Key"] = os.getenv("BENCH_KEY")

local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function init()
	ok, other = 0, 0
end

function response(status)
	if status == 200 then ok = ok + 1 else other = other + 1 end
end

function done(summary, latency)
	local good, bad = 0, 0
	for _, t in ipairs(threads) do
		good = good + t:get("ok")
		bad = bad + t:get("other")
	end
	io.write(string.format("wrk_ok %d\nwrk_other %d\nwrk_seconds %.3f\nwrk_p50_ms %.1f\nwrk_p99_ms %.1f\n",
		good, bad, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3))
end
