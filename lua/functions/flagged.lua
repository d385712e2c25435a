#!lua flags=allow-oom
-- A flagged script that fails at run time: as a function its library has
-- no line of its own before this file's lines, so the error's line maps
-- back unshifted (tests/functions.rs).
%key key
%return int
return redis.call('INCR', key)
