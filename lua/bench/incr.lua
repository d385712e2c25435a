-- Benchmark script: the smallest useful call, one key and one command.
%key key
%return int
return redis.call('INCR', key)
