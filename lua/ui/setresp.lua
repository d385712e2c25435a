%key user
%return str?
-- A RESP3 HGETALL is a map: handy, but `false` no longer means null.
redis.setresp(3)
local name = redis.call('HGET', user, 'name')
if not name then
    return false
end
return name
