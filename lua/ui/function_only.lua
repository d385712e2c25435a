-- Fine as a script, refused as a Redis Function: the main chunk reads `...`
-- (a script's is always empty; a function body takes none) and calls
-- redis.replicate_commands, which function bodies do not have.
%key counter
%return int
redis.replicate_commands()
local extra = select('#', ...)
return redis.call('INCR', counter) + extra
