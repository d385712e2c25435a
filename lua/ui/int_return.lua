%key k
%return int
local n = redis.call("INCR", k)
return n / 2
