-- Writes, then raises an error on line 9 of this file when `fail` is true
-- (the write stays: Redis does not roll back).
%key scratch
%arg fail bool
%return str
redis.call('INCR', scratch)
if fail then
  -- the error below is line 9
  error('entry failed on purpose')
end
return 'ok'
