-- A fixed-window rate limiter: at most `limit` requests per `window_ms`
-- for one bucket. INCR and PEXPIRE run atomically, so concurrent callers
-- never let more than `limit` through.
%key bucket
%arg limit int
%arg window_ms int
%return int?

local count = redis.call('INCR', bucket)
if count == 1 then
    redis.call('PEXPIRE', bucket, window_ms)
end
if count > limit then
    return false
end
return limit - count
