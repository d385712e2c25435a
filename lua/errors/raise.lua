-- Raises through an include so the error maps to lib/fail.lua.
%key scratch
%include "../lib/fail"
%return str
redis.call("SET", scratch, "x")
return fail_now() or "no error"
