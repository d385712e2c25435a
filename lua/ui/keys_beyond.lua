%key k
%return str?
return redis.call("GET", k) or KEYS[2]
