%key counter
%return int
local total = redis.call("INCR", counter)
return totl
