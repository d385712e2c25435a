-- Fine as a script, refused as a Redis Function: the main chunk reads `...`
-- (a script's is always empty; a function body takes none) and calls
-- redis.replicate_commands, which function bodies do not have, and reads
-- KEYS through _G (a function's KEYS is a parameter, not a global).
%key counter
%return int
redis.replicate_commands()
local extra = select('#', ...)
local first = _G.KEYS[1]
return redis.call('INCR', first or counter) + extra
