-- Version 1 of a script deployed twice (tests/functions.rs, rolling deploy):
-- same name, same signature, another body than functions/v2/greet.lua.
%key log
%arg who str
%return str
redis.call('RPUSH', log, 'v1')
return 'hello ' .. who
