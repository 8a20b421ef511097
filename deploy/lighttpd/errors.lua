-- errors.lua: gives lighttpd's own error answers under /v1/ (413 over the
-- body cap, 502/503/504 when Tollgate is down or slow) the contract's error
-- body and a request id. Run by mod_magnet as each response starts
-- (tollgate.conf beside this file); Tollgate's own answers, which always
-- carry X-Request-Id, pass untouched.
local r = lighty.r
local status = r.req_item.http_status
if r.resp_header["X-Request-Id"] ~= nil then
	return 0
end
local body
if status == 413 then
	body = '"error":"The request body is too large.","errorCode":"PAYLOAD_TOO_LARGE"'
elseif status == 502 or status == 503 or status == 504 then
	body = '"error":"The service is busy. Try again in a moment.","errorCode":"UNAVAILABLE"'
	r.resp_header["Retry-After"] = "5"
	status = 503
else
	return 0
end
local id = ""
for _ = 1, 8 do
	id = id .. string.format("%04x", lighty.c.rand() % 65536)
end
r.resp_header["Content-Type"] = "application/json; charset=utf-8"
r.resp_header["Cache-Control"] = "no-store"
r.resp_header["X-Request-Id"] = id
r.resp_body:set({ "{" .. body .. ',"requestId":"' .. id .. '"}' })
return status
