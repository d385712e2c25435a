-- Busy-waits `ms` milliseconds of server time, then counts its run: longer
-- than a short read timeout, so the caller gives up before the reply.
%key counter
%arg ms int
%return int
local t = redis.call('TIME')
local start = t[1] * 1000000 + t[2]
repeat
  t = redis.call('TIME')
until t[1] * 1000000 + t[2] - start >= ms * 1000
return redis.call('INCR', counter)
