-- Counts its calls in k and returns the int argument it was given.
%key k
%arg n int
%return int
redis.call("INCR", k)
return n
