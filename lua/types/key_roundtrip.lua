-- Stores value at key and reads it back, so the key bytes are really used.
%key key
%arg value bytes
%return bytes
redis.call("SET", key, value)
return redis.call("GET", key)
