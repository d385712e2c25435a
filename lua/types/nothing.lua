-- No %return: the Rust function returns () or redis::Value.
%key key
%arg value str
redis.call("SET", key, value)
return {1, "two", {3}}
