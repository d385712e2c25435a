-- Counts its own runs: one INCR of `counter` per call, so a test can tell
-- how many times each queued call really ran.
%key counter
%return int
return redis.call('INCR', counter)
