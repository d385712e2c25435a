-- Port of the redis-py scripting docs' `multiply` example.
%key key
%arg multiplier int
%return int

-- GET returns a string; Lua converts a numeric string for the arithmetic,
-- which the docs spell out with `tonumber(value)`.
local value = redis.call('GET', key)
return value * multiplier
