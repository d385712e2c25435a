%key key
%return redis[]
return redis.call("ZRANGE", key, 0, -1, "WITHSCORES")
