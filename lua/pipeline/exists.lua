#!lua flags=no-writes
-- Read-only (EVALSHA_RO): Lua true arrives as 1 and false as null, both
-- decode as bool.
%key key
%return bool
return redis.call('EXISTS', key) == 1
