%key counter
%return int
count = redis.call("INCR", counter)
return count
