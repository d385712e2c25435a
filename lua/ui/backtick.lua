%key k
%return str
local v = `x`
return redis.call("GET", k) .. v
