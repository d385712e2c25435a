%key key
%return redis
return redis.call("HGETALL", key)
