-- Port of "Scripting Redis using Lua" (Pratik Daigavane, 2022): LPUSH + INCRBY, atomically.
%key list
%key sum
%arg values int...
%return int

-- Push every value onto the list and add it to the running total.
local total = 0
for _, value in ipairs(values) do
    redis.call('LPUSH', list, value)
    total = total + value
end

-- Both writes happen in one script, so no client sees the list and the sum
-- disagree; INCRBY returns the new sum.
return redis.call('INCRBY', sum, total)
