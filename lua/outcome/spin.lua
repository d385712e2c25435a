-- Busy-waits `ms` milliseconds, then counts its run: longer than a short
-- read timeout, so the caller gives up before the reply. Redis 8 and Valkey
-- freeze TIME for the length of a script (it returned the same value after
-- a 16 ms loop), so there the wait is timed by `os.clock` (CPU time, which a
-- busy wait spends); Redis 6.2 and 7.0 have no `os` but a running TIME.
%key counter
%arg ms int
%return int
local os_clock = rawget(_G, 'os') and rawget(_G, 'os').clock
local function now_us()
  if os_clock then
    return os_clock() * 1000000
  end
  local t = redis.call('TIME')
  return t[1] * 1000000 + t[2]
end
local start = now_us()
repeat until now_us() - start >= ms * 1000
return redis.call('INCR', counter)
