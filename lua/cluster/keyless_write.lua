-- Writes a key it is given as an argument, not as a %key: on a cluster the
-- call cannot be routed (the compile-time check warns, as intended here).
%arg name str
%return int
return redis.call('INCR', name)
