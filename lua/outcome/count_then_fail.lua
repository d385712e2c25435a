-- Counts its run, then fails with an error whose code the caller picks
-- (so a test can use server condition codes such as NOSCRIPT or TRYAGAIN
-- without writing them as literals): `mode` is 'reply'
-- (redis.error_reply), 'table' ({err = ...}) or 'raise' (error({err = ...})).
%key counter
%arg code str
%arg mode str
%return int
redis.call('INCR', counter)
local text = code .. ' raised by the script itself'
if mode == 'reply' then
  return redis.error_reply(text)
elseif mode == 'table' then
  return {err = text}
end
error({err = text})
