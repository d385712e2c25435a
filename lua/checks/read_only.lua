#!lua flags=no-writes
-- Flagged no-writes: runs through EVALSHA_RO, so it may go to replicas.
%key counter
%return int?
return redis.call("GET", counter)
