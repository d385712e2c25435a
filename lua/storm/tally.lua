-- Counts one run of the call named `id`: a soak test compares each call's
-- count on the server with what the call returned to its caller.
%key counts
%arg id str
%return int
return redis.call('HINCRBY', counts, id, 1)
