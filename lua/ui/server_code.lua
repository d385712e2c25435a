%key k
%return int
redis.call("INCR", k)
return redis.error_reply("NOSCRIPT not really")
