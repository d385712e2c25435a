#!lua flags=no-writes
%key counter
%return int
redis.pcall("hset", counter, "f", "v")
return redis.call("SET", counter, 1)
