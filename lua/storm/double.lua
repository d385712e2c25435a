-- Counts its run and returns twice `n`: a caller can tell its own reply
-- from another's, and the counter tells how many calls really ran.
%key counter
%arg n int
%return int
redis.call('INCR', counter)
return n * 2
