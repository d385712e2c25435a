-- Touches every global the Redis 7 sandbox provides: it must compile.
%key key
%arg data json
%return str
local t = {}
t[#t + 1] = type(redis.call) .. type(redis.pcall) .. type(redis.sha1hex) .. type(redis.error_reply)
t[#t + 1] = type(redis.status_reply) .. type(redis.log) .. tostring(redis.LOG_WARNING)
t[#t + 1] = key .. #KEYS .. #ARGV .. cjson.encode(data) .. type(cmsgpack.pack) .. type(cmsgpack.unpack)
t[#t + 1] = tostring(bit.band(7, 3)) .. type(struct.pack)
t[#t + 1] = string.upper("a") .. table.concat({"b"}) .. tostring(math.floor(1.5))
t[#t + 1] = tostring(tonumber("4")) .. type(pairs) .. type(ipairs) .. type(next)
t[#t + 1] = tostring(select("#", 1, 2)) .. tostring(#{unpack({1, 2})})
local ok = pcall(error, "x")
local ok2 = xpcall(function() assert(true) end, function(e) return e end)
t[#t + 1] = tostring(ok) .. tostring(ok2)
local mt = setmetatable({}, {})
t[#t + 1] = tostring(getmetatable(mt) ~= nil) .. tostring(rawequal(mt, mt))
rawset(mt, "a", 1)
t[#t + 1] = tostring(rawget(mt, "a")) .. type(loadstring) .. type(_G) .. _VERSION
return table.concat(t, ",")
