-- errors.lua: gives lighttpd's own error answers under /v1/ (413 over the
-- body cap, 502/503/504 when Tollgate is down or slow) the contract's error
-- body, a request id in Tollgate's format and the security headers. Run by mod_magnet as each response starts
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
-- A ULID, as Tollgate's request ids: 48 bits of milliseconds, then 80
-- random bits, in Crockford's base 32.
local crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
local function b32(v, n)
	local s = ""
	for _ = 1, n do
		local d = v % 32
		s = crockford:sub(d + 1, d + 1) .. s
		v = v // 32
	end
	return s
end
local sec, nsec = lighty.c.hrtime()
local id = b32(sec * 1000 + nsec // 1000000, 10)
for _ = 1, 4 do
	id = id .. b32(lighty.c.rand() % 1048576, 4)
end
-- The security headers of tollgate.conf beside this file: mod_setenv does
-- not reach an answer lighttpd makes before the request is handled (413).
local security = {
	["X-Content-Type-Options"] = "nosniff",
	["Referrer-Policy"] = "no-referrer",
	["Content-Security-Policy"] = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; require-trusted-types-for 'script'; trusted-types 'none'",
	["X-Frame-Options"] = "DENY",
	["Cross-Origin-Opener-Policy"] = "same-origin",
	["Cross-Origin-Resource-Policy"] = "same-origin",
	["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
for name, value in pairs(security) do
	if r.resp_header[name] == nil then
		r.resp_header[name] = value
	end
end
r.resp_header["Content-Type"] = "application/json; charset=utf-8"
r.resp_header["Cache-Control"] = "no-store"
r.resp_header["X-Request-Id"] = id
r.resp_body:set({ "{" .. body .. ',"requestId":"' .. id .. '"}' })
return status
