%key counter
%return int
local n = redis.call("INCR", counter)
if n > 10 then
  return n
return 0
