-- ZRANGE WITHSCORES: a flat array of member, score, member, score...
%key key
%return redis
return redis.call("ZRANGE", key, 0, -1, "WITHSCORES")
