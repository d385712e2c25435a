-- Version 2 of functions/v1/greet.lua: the same call, a new body.
%key log
%arg who str
%return str
redis.call('RPUSH', log, 'v2')
return 'hi ' .. who .. '!'
