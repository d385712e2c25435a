#!lua flags=no-writes
-- A read-only script: as a function it runs with FCALL_RO.
%key key
%return str?
return redis.call('GET', key)
