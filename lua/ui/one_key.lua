%key key
%return int
return redis.call("EXISTS", key)
