-- Included by the scripts beside it: one reply of each RESP3 type (and
-- the `redis.setresp(3)` booleans) by name, for the RESP2 = RESP3 tests.
local function shape(kind, hash)
    if kind == 'map' then
        return {map={a='1'}}
    elseif kind == 'big_number' then
        return {big_number='12345678901234567890'}
    elseif kind == 'double' then
        return {double=1.5}
    elseif kind == 'whole_double' then
        return {double=3}
    elseif kind == 'set' then
        return {set={x=true}}
    elseif kind == 'verbatim' then
        return {verbatim_string={format='txt', string='hi'}}
    elseif kind == 'true' then
        redis.setresp(3)
        return true
    elseif kind == 'false' then
        redis.setresp(3)
        return false
    elseif kind == 'hgetall' then
        redis.setresp(3)
        return redis.call('HGETALL', hash)
    elseif kind == 'array' then
        redis.setresp(3)
        return {true, false, {double=2.5}, 'x'}
    end
    return nil
end
