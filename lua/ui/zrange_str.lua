%key key
%return str[]
return redis.call("ZRANGE", key, 0, -1, "WITHSCORES")
