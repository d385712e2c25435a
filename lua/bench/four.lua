-- Benchmark script: four commands on declared keys, shaped like
-- create_status.lua (HGET, INCR, HSET, HINCRBY) but Cluster-safe and
-- constant-size, so a long run does not grow the dataset.
%key user
%key ids
%key status
%arg message str
%return int

local login = redis.call('HGET', user, 'login')
local id = redis.call('INCR', ids)
redis.call('HSET', status, 'login', login or '', 'id', id, 'message', message)
redis.call('HINCRBY', user, 'posts', 1)
return id
