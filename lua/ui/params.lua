%key user
%arg size int
%arg name str
%return int
return redis.call("HSET", user, name, size)
