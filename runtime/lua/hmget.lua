-- HMGET replies null for missing fields: str?[] keeps them as None.
%key hash
%arg fields str...
%return str?[]
return redis.call("HMGET", hash, unpack(fields))
