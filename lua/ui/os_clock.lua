-- os exists on Redis 8.2 and Valkey only: refused for a crate that targets every server.
%return float
local t0 = os.clock()
return string.format("%.17g", os.clock() - t0)
