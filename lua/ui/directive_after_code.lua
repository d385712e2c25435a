%key k
%return int
local n = 1
%arg step int
return redis.call("INCRBY", k, n)
